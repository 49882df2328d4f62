python -m venv "$RUNNER_TEMP/venv"
py="$RUNNER_TEMP/venv/Scripts/python.exe"
[ -x "$py" ] || py="$RUNNER_TEMP/venv/bin/python"
if [ -n "$TORCH_INDEX" ]; then
  "$py" -m pip install --quiet --index-url "$TORCH_INDEX" "$TORCH_REQ"
else
  "$py" -m pip install --quiet "$TORCH_REQ"
fi
"$py" -m pip install dist/wheels/*.whl
cd "$RUNNER_TEMP"
"$py" -m attnfarm
