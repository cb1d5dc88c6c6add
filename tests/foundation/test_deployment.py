"""Deployment hardening: CSP, static files, HTTPS, and Django's deployment checks."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.foundation.production import run_production

pytestmark = pytest.mark.django_db

ROOT = Path(django_settings.BASE_DIR)


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_pages_carry_a_csp_allowing_only_our_own_scripts_and_styles(client):
    response = client.get("/accounts/login/")

    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in response["Content-Security-Policy"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_hold_no_inline_script_or_style_the_csp_would_block():
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern, what in INLINE:
            found += [f"{template.relative_to(ROOT)}: {what}" for _ in pattern.finditer(text)]

    assert found == []


def test_htmx_is_told_not_to_inject_styles_or_evaluate_code(client, make_user):
    client.force_login(make_user("ann", "auditor"))

    html = client.get("/").content.decode()

    [config] = re.findall(r'<meta name="htmx-config" content=\'([^\']+)\'>', html)
    assert json.loads(config) == {"includeIndicatorStyles": False, "allowEval": False}


def test_static_files_are_served_without_collectstatic(client):
    response = client.get("/static/vendor/htmx.min.js")

    assert response.status_code == 200
    assert b"htmx" in b"".join(response.streaming_content)


def test_https_redirect_spares_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

    response = client.get("/accounts/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code == 200


def test_production_settings_harden_transport_and_cookies():
    program = (
        "import json, config.settings.production as p; print(json.dumps(["
        "p.SECURE_SSL_REDIRECT, p.SECURE_HSTS_SECONDS, p.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "p.SESSION_COOKIE_SECURE, p.SESSION_COOKIE_HTTPONLY, p.CSRF_COOKIE_SECURE, "
        "p.STORAGES['staticfiles']['BACKEND'], p.DEBUG]))"
    )
    result = run_production("-c", program)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        True,
        31536000,
        True,
        True,
        True,
        True,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        False,
    ]


def test_production_passes_the_deployment_checks():
    result = run_production("manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_collects_static_files_under_hashed_compressed_names(collected_static):
    # `manage.py collectstatic --noinput -v0` under the production settings, started when the
    # session started (tests/foundation/conftest.py); static_root is its STATIC_ROOT.
    collected, static_root = collected_static
    assert collected.returncode == 0, collected.stderr

    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["vendor/htmx.min.js"]
    assert re.fullmatch(r"vendor/htmx\.min\.[0-9a-f]{12}\.js", hashed)
    assert (static_root / hashed).exists() and (static_root / f"{hashed}.gz").exists()
    program = (
        "import django; django.setup(); from django.templatetags.static import static; "
        "print(static('vendor/htmx.min.js'))"
    )
    url = run_production("-c", program, DJANGO_STATIC_ROOT=str(static_root)).stdout.strip()
    assert url == f"/static/{hashed}"
