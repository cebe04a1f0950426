#!/usr/bin/env bash
# Install what the integration tests' real engines need on a machine without Docker.
#
# Usage:  deploy/install-system-deps.sh            (from anywhere; the Makefile's test target runs it)
#   PYTHON=.venv/bin/python deploy/install-system-deps.sh   python used to pre-fetch the jars
#   CONNECT_ENGINES_CACHE=/path                             where the jars go
#                                                           (default ~/.cache/connect/engines)
#   CONNECT_SKIP_APT=1                                      do not touch system packages
#   CONNECT_SKIP_FETCH=1                                    do not pre-fetch the Maven closures
#
# Idempotent: installs with apt-get only the packages whose commands are missing (running
# `apt-get update` first only when the package lists are empty), then resolves the Kafka,
# Elasticsearch and OpenSearch jar closures from Maven Central into the engines cache, which is a
# no-op once they are there. Needs root (or sudo) only when something has to be installed.
#
#   PostgreSQL  -> apt: postgresql        (initdb/postgres under /usr/lib/postgresql/<ver>/bin)
#   Redis       -> apt: redis-server
#   Kafka 4.x   -> Maven: deploy/engines/kafka/pom.xml       (needs Java 17+)
#   Elasticsearch 8.19 -> Maven: deploy/engines/elasticsearch/pom.xml (+ ConnectElasticsearch.java
#                  and the stand-in plugin under standin/, compiled and laid out as a home: needs javac)
#   OpenSearch  -> Maven: deploy/engines/opensearch/pom.xml  (+ ConnectOpenSearch.java, needs javac)
#   java, javac -> apt: default-jdk-headless  (only when missing)
#   mvn         -> apt: maven                 (only when missing)
#   Chromium    -> apt: chromium chromium-driver (the portal's browser tests)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

log() { printf '[install-system-deps] %s\n' "$*" >&2; }

have_pg() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null
}

missing=()
have_pg || missing+=(postgresql)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
{ command -v java >/dev/null && command -v javac >/dev/null; } || missing+=(default-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
# The portal's browser tests: Debian's Chromium (Playwright drives it; no browser download).
{ [ -x /usr/bin/chromium ] || command -v chromium >/dev/null; } || missing+=(chromium chromium-driver)

if [ "${#missing[@]}" -gt 0 ] && [ "${CONNECT_SKIP_APT:-0}" != "1" ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            log "need root to install: ${missing[*]}"
            exit 1
        fi
    fi
    if ! command -v apt-get >/dev/null; then
        log "no apt-get here; install these yourself: ${missing[*]}"
        exit 1
    fi
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        log "apt-get update"
        "${sudo[@]}" apt-get update -q
    fi
    log "apt-get install ${missing[*]}"
    # policy-rc.d 101 keeps the packages' own system services from being started.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        trap '"${sudo[@]}" rm -f "$policy"' EXIT
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "system packages present"
fi

if [ "${CONNECT_SKIP_FETCH:-0}" = "1" ]; then
    exit 0
fi

python="${PYTHON:-}"
if [ -z "$python" ] && [ -x "$repo/.venv/bin/python" ]; then
    python="$repo/.venv/bin/python"
fi
if [ -z "$python" ]; then
    python="$(command -v python3 || true)"
fi

# The Python launchers also compile the project's Java (launchers, Elasticsearch's stand-in plugin)
# and record what they fetched; fall back to plain Maven (jars only; the first start compiles)
# when no interpreter can import the package yet.
if [ -n "$python" ] && (cd "$repo" && PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -c 'import stack.engines' 2>/dev/null); then
    log "fetching engine jars (Kafka, Elasticsearch, OpenSearch) with $python"
    (cd "$repo" && PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -c 'from stack.engines import fetch_all; fetch_all()')
else
    cache="${CONNECT_ENGINES_CACHE:-$HOME/.cache/connect/engines}"
    for name in kafka elasticsearch opensearch; do
        pom="$here/engines/$name/pom.xml"
        lib="$cache/$name/lib"
        # Same marker as stack/engines/jvm.py writes: the pom's sha256.
        digest="$(sha256sum "$pom" | cut -d' ' -f1)"
        if [ "$(cat "$lib/.complete" 2>/dev/null)" != "$digest" ]; then
            log "fetching $name jars with mvn into $lib"
            rm -rf "$lib"
            mvn -B -q -f "$pom" dependency:copy-dependencies -DoutputDirectory="$lib"
            echo "$digest" >"$lib/.complete"
        fi
    done
fi
log "done"
