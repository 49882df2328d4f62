mkdir -p @FARM_OUT@ dist/farm-manifest
"$DIST" build --artifacts=local --target "$TARGET" --output-format=json >"dist/farm-manifest/$TARGET-dist-manifest.json"
find target/distrib -maxdepth 1 -type f -name 'attnfarm-farm-*' -exec cp {} @FARM_OUT@/ \;
ls -l @FARM_OUT@
(cd @FARM_OUT@ && sha256sum -c "attnfarm-farm-$TARGET".*.sha256)
mkdir -p "$RUNNER_TEMP/farm"
@UNPACK@
bin=$(find "$RUNNER_TEMP/farm" -type f -name 'attnfarm-farm*' ! -name '*.*z*' | head -n 1)
"$bin" --version
