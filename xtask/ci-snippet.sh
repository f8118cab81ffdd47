# xtask checks, to be merged into .ci/run (run from the repository root; `set -e` assumed).
#
# 1. The committed snapshot of the generated code must match what openapi/apipod.yaml
#    generates now (exit 1 with the stale file and a short diff otherwise).
cargo xtask codegen --check

# 2. Our spec must state the same facts as the upstream docs snapshot in ../shared
#    (exit 1 on drift, 2 on unreadable docs). CI has a copy of shared/ beside the clone;
#    a machine without it skips the check instead of failing.
if [ -d ../shared/apipod-docs/api-reference/openapi ]; then
  cargo xtask drift --docs ../shared/apipod-docs
else
  echo "xtask drift: ../shared/apipod-docs not found; skipping the upstream docs drift check"
fi
