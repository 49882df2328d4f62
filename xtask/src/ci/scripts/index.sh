chmod +x "$XTASK"
"$XTASK" index --base-url release
