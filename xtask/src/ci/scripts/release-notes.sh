partial=()
if [ "$ALLOW_PARTIAL" = true ]; then partial=(--allow-partial); fi
"$XTASK" release-notes --summaries dist/summaries --out dist/release-notes.md "${partial[@]}"
cat dist/release-notes.md >> "$GITHUB_STEP_SUMMARY"
