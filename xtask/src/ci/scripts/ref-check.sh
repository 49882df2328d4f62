case "$REF" in
  refs/heads/main | refs/tags/*) ;;
  *)
    echo "::error::a release runs from main or an existing tag, not $REF: dispatch it from main or from the tag"
    exit 1
    ;;
esac
