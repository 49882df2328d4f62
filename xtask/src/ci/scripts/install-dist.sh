@PYTHON@ -m venv "$RUNNER_TEMP/dist-tool"
"$RUNNER_TEMP/dist-tool/@BIN@/python" -m pip install --quiet "@PACKAGE@==@VERSION@"
echo "DIST=$RUNNER_TEMP/dist-tool/@BIN@/dist@EXE@" >> "$GITHUB_ENV"
"$RUNNER_TEMP/dist-tool/@BIN@/dist@EXE@" --version
