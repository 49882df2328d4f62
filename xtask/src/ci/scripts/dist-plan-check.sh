"$DIST" plan >"$RUNNER_TEMP/dist-plan.txt"
diff -u farm/dist-plan.txt "$RUNNER_TEMP/dist-plan.txt"
