#!/usr/bin/env bash
# Static checks of the SAM template: cfn-lint, `sam validate --lint`, checkov, and check_state_machine.py (the
# QueryEngine wiring and the Step Functions definition, which cfn-lint does not look into). Checkov and cfn-lint
# run for both QueryEngine values. Any finding fails the script.
#
#   bash infra/check.sh            (from anywhere; needs python3 >= 3.9 with venv)
#
# The tools live in virtualenvs under <repo>/.services/infra-venv (override with PINPIPE_INFRA_VENV) and are
# installed from PyPI at the pinned versions below on first use, or when a pin changes. After that everything runs
# offline. Two venvs, because aws-sam-cli and checkov pin different exact boto3 versions:
#   .services/infra-venv/sam      cfn-lint + aws-sam-cli
#   .services/infra-venv/checkov  checkov
# Checkov findings that are accepted are skipped in template.yaml itself (Metadata: checkov: skip:, with a reason).
set -euo pipefail

CFN_LINT_VERSION=1.58.0
AWS_SAM_CLI_VERSION=1.170.0
CHECKOV_VERSION=3.3.30

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_root="${PINPIPE_INFRA_VENV:-$repo/.services/infra-venv}"
template="infra/template.yaml"   # relative to $repo, so reports show a short path

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ensure_venv DIR PKG==VER... : create DIR if needed; (re)install only when an installed version differs from its pin.
ensure_venv() {
  local dir="$1"; shift
  local t0; t0="$(now)"
  if [[ ! -x "$dir/bin/python" ]]; then
    echo "==> creating virtualenv $dir"
    python3 -m venv "$dir"
  fi
  if "$dir/bin/python" - "$@" <<'PY'
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PY
  then
    echo "==> $(basename "$dir") venv up to date ($*) [$(elapsed "$t0") s]"
  else
    echo "==> installing into $(basename "$dir") venv: $*"
    "$dir/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "$@"
    echo "==> installed [$(elapsed "$t0") s]"
  fi
}

mkdir -p "$venv_root"
t_all="$(now)"
ensure_venv "$venv_root/sam" "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$AWS_SAM_CLI_VERSION"
ensure_venv "$venv_root/checkov" "checkov==$CHECKOV_VERSION"

cd "$repo"
# No telemetry, no checkov guideline download, no AWS account needed.
export SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE

status=0
run() {
  local name="$1"; shift
  local t0; t0="$(now)"
  echo "==> $name"
  if "$@"; then
    echo "==> $name: ok [$(elapsed "$t0") s]"
  else
    echo "==> $name: FAILED [$(elapsed "$t0") s]" >&2
    status=1
  fi
}

# Checkov skips the resources whose Condition is false with the parameters' defaults, so it also scans a copy whose
# QueryEngine default is Athena (the state machine, its role and log group, the batch role's athena-unload rights).
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
athena_template="$scratch/template-QueryEngine-Athena.yaml"
sed '/^  QueryEngine:$/,/^  [A-Za-z]/ s/^    Default: Lambda$/    Default: Athena/' "$template" >"$athena_template"
if cmp -s "$template" "$athena_template"; then
  echo "==> could not make the QueryEngine=Athena copy (no 'Default: Lambda' under QueryEngine)" >&2
  status=1
fi

run "cfn-lint $CFN_LINT_VERSION" "$venv_root/sam/bin/cfn-lint" "$template"
run "cfn-lint $CFN_LINT_VERSION, QueryEngine=Athena" \
  "$venv_root/sam/bin/cfn-lint" "$template" --parameters QueryEngine=Athena
run "sam validate --lint (aws-sam-cli $AWS_SAM_CLI_VERSION)" \
  env AWS_DEFAULT_REGION=us-east-1 "$venv_root/sam/bin/sam" validate --lint -t "$template"
run "checkov $CHECKOV_VERSION" \
  "$venv_root/checkov/bin/checkov" -f "$template" --framework cloudformation --skip-download --quiet --compact
run "checkov $CHECKOV_VERSION, QueryEngine=Athena" \
  "$venv_root/checkov/bin/checkov" -f "$athena_template" --framework cloudformation --skip-download --quiet --compact
run "state machine and QueryEngine (check_state_machine.py)" \
  "$venv_root/sam/bin/python" infra/check_state_machine.py "$template"

if [[ $status -eq 0 ]]; then
  echo "==> infra checks passed [$(elapsed "$t_all") s]"
else
  echo "==> infra checks FAILED [$(elapsed "$t_all") s]" >&2
fi
exit "$status"
