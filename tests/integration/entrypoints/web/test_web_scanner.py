"""The home page's QR scanner, server side: the headers that let only that page use the camera and
WebAssembly, the vendored decoder served by our own /static route (the .wasm as application/wasm,
byte for byte what the module expects), a module graph that stays on this site, and package data
that ships it. The scanner itself runs in Chromium in tests/e2e/test_scanner.py."""

from __future__ import annotations

import glob
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.entrypoints.web import middleware
from ecert.entrypoints.web.app import create_app

PACKAGE = Path(middleware.__file__).resolve().parents[2]  # src/ecert
STATIC = PACKAGE / "entrypoints" / "web" / "static"
VENDOR = STATIC / "vendor" / "zxing-wasm"
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"
BASE_URL = "https://ecert.example.cn"


@pytest.fixture
def client(db_url: str, engine: Engine, tmp_path: Path) -> TestClient:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys"), "ECERT_BASE_URL": BASE_URL})
    keystore.ensure_keys(keys)
    return TestClient(create_app(bootstrap(Settings(database_url=db_url), engine=engine, keys=keys)))


def _script_src(csp: str) -> list[str]:
    (directive,) = [d.split()[1:] for d in csp.split(";") if d.split()[:1] == ["script-src"]]
    return directive


def test_only_the_scanner_page_may_use_the_camera_and_webassembly(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert _script_src(home.headers["content-security-policy"]) == ["'self'", "'wasm-unsafe-eval'"]
    assert "camera=(self)" in home.headers["permissions-policy"]
    # Nothing else of the policy is loosened.
    assert (
        home.headers["content-security-policy"].replace(" 'wasm-unsafe-eval'", "")
        == (middleware.SECURITY_HEADERS["Content-Security-Policy"])
    )
    assert (
        home.headers["permissions-policy"].replace("camera=(self)", "camera=()")
        == (middleware.SECURITY_HEADERS["Permissions-Policy"])
    )
    for other in ("/verify", "/login"):
        res = client.get(other)
        assert _script_src(res.headers["content-security-policy"]) == ["'self'"], other
        assert "camera=()" in res.headers["permissions-policy"], other


def test_the_home_page_has_the_scanner_with_this_sites_qr_base(client: TestClient) -> None:
    zh = client.get("/").text
    assert 'data-scanner data-bases="https://ecert.example.cn"' in zh
    assert '<script type="module" src="/static/scan.js"></script>' in zh
    assert "扫描二维码" in zh and "选择照片" in zh
    assert '<input type="file" accept="image/*" data-scan-file>' in zh
    en = client.get("/?lang=en").text
    assert "Scan QR code" in en and "Choose a photo" in en and "扫描二维码" not in en


def test_the_decoder_is_served_from_our_static_route(client: TestClient) -> None:
    wasm = client.get("/static/vendor/zxing-wasm/reader/zxing_reader.wasm")
    assert wasm.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm"  # WebAssembly.instantiateStreaming needs it
    module = (VENDOR / "es" / "reader" / "index.js").read_text()
    (declared,) = re.findall(r'var \w+ = "([0-9a-f]{64})";\nexport', module)
    assert hashlib.sha256(wasm.content).hexdigest() == declared  # the build the module was made with
    for path in ("/static/scan.js", "/static/vendor/zxing-wasm/es/reader/index.js"):
        res = client.get(path)
        assert res.status_code == 200, path
        assert res.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript"), path


def test_the_vendored_version_is_the_one_recorded() -> None:
    version = (VENDOR / "VERSION").read_text().strip()
    share = (VENDOR / "es" / "share.js").read_text()
    assert re.search(rf'var \w+ = "{re.escape(version)}", \w+ = "[0-9a-f]{{40}}"', share)  # ZXING_WASM_VERSION
    readme = (VENDOR / "README.md").read_text()
    for name in ("es/reader/index.js", "es/share.js", "reader/zxing_reader.wasm"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `zxing-wasm@{version}` `package/dist/{name}` | `{digest}` |" in readme
    assert (VENDOR / "LICENSE").read_text().startswith("MIT License")
    assert "Apache License" in (VENDOR / "LICENSE.zxing-cpp").read_text()


def test_the_module_graph_stays_on_this_site() -> None:
    """Every import of scan.js and of the modules it imports is a relative path to a vendored
    file: no CDN, no bare specifier a browser could not resolve."""
    seen, todo = set(), [STATIC / "scan.js"]
    while todo:
        path = todo.pop()
        seen.add(path)
        for spec in re.findall(r'(?:^|[;\s}])(?:import|export)\s[^"\';]*?from\s*"([^"]+)"', path.read_text(), re.M):
            assert spec.startswith(("./", "../")), (path.name, spec)
            target = (path.parent / spec).resolve()
            assert target.is_file() and STATIC in target.parents, (path.name, spec)
            if target not in seen:
                todo.append(target)
    assert {p.relative_to(STATIC).as_posix() for p in seen} == {
        "scan.js",
        "vendor/zxing-wasm/es/reader/index.js",
        "vendor/zxing-wasm/es/share.js",
    }
    assert "zxing_reader.wasm" in (STATIC / "scan.js").read_text()  # the module is told where the .wasm is


def test_package_data_ships_every_static_file() -> None:
    """setuptools expands each package-data pattern with glob(recursive=True) in the package dir."""
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["ecert"]
    shipped = {Path(f) for p in patterns for f in glob.glob(p, root_dir=PACKAGE, recursive=True)}
    files = {f.relative_to(PACKAGE) for f in STATIC.rglob("*") if f.is_file()}
    assert files - shipped == set()
    assert Path("entrypoints/web/static/vendor/zxing-wasm/reader/zxing_reader.wasm") in files
