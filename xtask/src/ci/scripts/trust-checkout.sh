git config --global --add safe.directory "$GITHUB_WORKSPACE"
head=$(git rev-parse HEAD)
if [ "$head" != "$GITHUB_SHA" ]; then
  echo "::error::git sees $head, the workflow built $GITHUB_SHA"
  exit 1
fi
