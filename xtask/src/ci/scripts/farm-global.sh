"$DIST" build --artifacts=global
mkdir -p @FARM_OUT@
cp target/distrib/attnfarm-farm-installer.sh target/distrib/attnfarm-farm-installer.ps1 target/distrib/sha256.sum @FARM_OUT@/
cat @FARM_OUT@/sha256.sum
# Every archive is listed, and the list checks out against the archives.
[ "$(grep -c 'attnfarm-farm-' @FARM_OUT@/sha256.sum)" -eq @COUNT@ ]
(cd target/distrib && sha256sum -c ../../@FARM_OUT@/sha256.sum)
sh -n @FARM_OUT@/attnfarm-farm-installer.sh
