#!/usr/bin/env bash
# The whole test suite (what the README's test command and CI run):
#
#   1. scripts/prereqs.sh          Debian packages + the Python venv with the real clients
#   2. scripts/with-postgres.sh    a throwaway PostgreSQL on loopback, and inside it:
#      a. swift build
#      b. swift test               store tests hit SQLite and PostgreSQL
#                                  (MARTLET_TEST_POSTGRES_URL is exported)
#      c. acceptance (SQLite)      pytest Tests/acceptance against `martlet serve`
#      d. acceptance (PostgreSQL)  the same scenarios, `martlet serve --database postgres://…`
#      e. qemu                      scripts/test-qemu.sh: the qemu driver's tests and real guests
#                                  driven by the openstack CLI, in a network namespace of their own
#
# Exits non-zero if any stage fails; later stages still run when they can, so
# one run reports everything.  Environment knobs:
#   SWIFT_BUILD_FLAGS   extra flags for `swift build` (e.g. "-c release")
#   SWIFT_TEST_FLAGS    extra flags for `swift test`  (e.g. "--parallel")
#   PYTEST_FLAGS        extra flags for pytest       (e.g. "-x -k token")
#   MARTLET_SKIP_SWIFT_TEST=1, MARTLET_SKIP_ACCEPTANCE=1, MARTLET_SKIP_QEMU=1   skip those stages
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

section() {
    printf '\n==============================================================================\n'
    printf '== %s\n' "$*"
    printf '==============================================================================\n'
}

# --- inner part: runs inside scripts/with-postgres.sh -------------------------
if [[ "${1:-}" == "--inside-postgres" ]]; then
    VENV="$2"
    : "${MARTLET_TEST_POSTGRES_URL:?must run under scripts/with-postgres.sh}"
    results=()
    failed=0
    record() { # name rc seconds
        if [[ "$2" == 0 ]]; then results+=("  ok    $1 (${3}s)")
        else results+=("  FAIL  $1 (exit $2, ${3}s)"); failed=1; fi
    }
    run_stage() { # name cmd...
        local name="$1"; shift
        section "$name"
        local t0=$SECONDS
        "$@"
        local rc=$?
        record "$name" "$rc" $((SECONDS - t0))
        return "$rc"
    }

    # shellcheck disable=SC2086
    if run_stage "swift build" swift build ${SWIFT_BUILD_FLAGS:-}; then
        if [[ "${MARTLET_SKIP_SWIFT_TEST:-0}" != 1 ]]; then
            # Eight tests at a time: every test runs a whole cloud with its loops, and all 240 at once on
            # two cores starve one another's requests past their time bounds. The run takes no longer.
            # shellcheck disable=SC2086
            run_stage "swift test (SQLite + PostgreSQL)" swift test --experimental-maximum-parallelization-width 8 ${SWIFT_TEST_FLAGS:-}
        fi

        if [[ "${MARTLET_SKIP_ACCEPTANCE:-0}" != 1 ]]; then
            # shellcheck disable=SC2086
            BIN_DIR="$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path 2>/dev/null)" || BIN_DIR=""
            [[ -n "$BIN_DIR" ]] || BIN_DIR="$REPO/.build/debug"
            export MARTLET_BIN="${MARTLET_BIN:-$BIN_DIR/martlet}"
            # The venv's executables (openstack) first on PATH for the tests.
            export PATH="$VENV/bin:$PATH"
            pytest_cmd=("$VENV/bin/python" -m pytest "$REPO/Tests/acceptance" -v -ra -p no:cacheprovider)
            # shellcheck disable=SC2206
            pytest_cmd+=(${PYTEST_FLAGS:-})

            run_stage "acceptance: openstack CLI + openstacksdk vs martlet on SQLite" \
                env -u MARTLET_ACCEPTANCE_DATABASE "${pytest_cmd[@]}"
            run_stage "acceptance: openstack CLI + openstacksdk vs martlet on PostgreSQL" \
                env MARTLET_ACCEPTANCE_DATABASE="$MARTLET_TEST_POSTGRES_URL" "${pytest_cmd[@]}"
        fi

        if [[ "${MARTLET_SKIP_QEMU:-0}" != 1 ]]; then
            run_stage "qemu: the driver and real guests (in a network namespace of their own)" \
                timeout -k 30 1500 bash scripts/test-qemu.sh "$VENV"
        fi
    fi

    section "summary"
    printf '%s\n' "${results[@]}"
    if ((failed)); then
        echo "RESULT: FAILED"
        exit 1
    fi
    echo "RESULT: all stages passed"
    exit 0
fi

# --- outer part ---------------------------------------------------------------
START=$SECONDS
section "prerequisites (scripts/prereqs.sh)"
VENV="$(bash "$REPO/scripts/prereqs.sh" | tail -n1)" || { echo "prerequisites failed" >&2; exit 1; }
[[ -x "$VENV/bin/python" ]] || { echo "prereqs.sh did not report a usable venv ('$VENV')" >&2; exit 1; }
echo "swift:  $(swift --version 2>&1 | head -n1)"
echo "venv:   $VENV ($("$VENV/bin/openstack" --version 2>&1), openstacksdk $("$VENV/bin/python" -c 'import openstack.version as v; print(v.__version__)'))"

bash "$REPO/scripts/with-postgres.sh" bash "$REPO/scripts/test.sh" --inside-postgres "$VENV"
rc=$?
echo "total time: $(((SECONDS - START) / 60))m$(((SECONDS - START) % 60))s"
exit "$rc"
