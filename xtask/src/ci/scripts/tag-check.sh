want=$(@XTASK@ plan --json | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p["release"]["tag"].replace("{version}", p["package"]["version"]))')
if [ "$PUSHED" != "$want" ]; then
  echo "::error::pushed tag $PUSHED is not the release tag $want of matrix.yaml; bump package.version or push $want"
  exit 1
fi
