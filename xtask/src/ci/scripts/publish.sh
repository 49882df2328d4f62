dry=()
if [ "$DRY_RUN" = true ]; then dry=(--dry-run); fi
"$XTASK" publish --notes dist/release-notes.md --site dist/site "${dry[@]}"
