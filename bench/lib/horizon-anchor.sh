#!/usr/bin/env bash
# bench/lib/horizon-anchor.sh PORT KEYSTONE_URL MEMCACHED_PORT - the anchor of bench/dashboard.sh:
# OpenStack's own Horizon (the `horizon` release on PyPI, pinned) under gunicorn with 2 workers,
# sessions in a private memcached as Horizon's defaults keep them, pointed at the Martlet being
# measured, with pages of 100 rows (HORIZON_PAGE_SIZE) as Martlet's dashboard has them. Its stylesheets
# are not compiled (no page here needs them to render on the server). Installs into
# ~/.cache/martlet-anchors/horizon-venv the first time; runs in the foreground.
set -euo pipefail
PORT=$1 KEYSTONE=$2 MEMCACHED_PORT=$3
VENV=${HORIZON_VENV:-$HOME/.cache/martlet-anchors/horizon-venv}
VERSION=${HORIZON_VERSION:-25.1.0}
if ! "$VENV/bin/python" -c "import openstack_dashboard, gunicorn, pymemcache" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "horizon==$VERSION" gunicorn pymemcache >&2
fi
SITE=$("$VENV/bin/python" -c "import openstack_dashboard, os; print(os.path.dirname(openstack_dashboard.__file__))")
cat > "$SITE/local/local_settings.py" <<PY
DEBUG = False
ALLOWED_HOSTS = ["*"]
SECRET_KEY = "martlet-bench-anchor"
OPENSTACK_KEYSTONE_URL = "$KEYSTONE"
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:$MEMCACHED_PORT"}}
COMPRESS_ENABLED = False
COMPRESS_OFFLINE = False
COMPRESS_PRECOMPILERS = ()
API_RESULT_LIMIT = 1000
API_RESULT_PAGE_SIZE = ${HORIZON_PAGE_SIZE:-100}
PY
cd "$SITE"
exec "$VENV/bin/gunicorn" --workers 2 --bind "127.0.0.1:$PORT" --pythonpath "$SITE" --timeout 120 --log-level warning openstack_dashboard.wsgi:application
