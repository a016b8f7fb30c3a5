"""[admin] tls_cert and tls_key: the admin server speaks HTTPS (a self-signed certificate made with openssl)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import aiohttp

from screener.service.tokens import Role
from tests.admin.conftest import Admin, AdminFactory


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "admin-cert.pem", folder / "admin-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


async def test_admin_server_over_https(make_admin: AdminFactory, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    admin: Admin = await make_admin(tls_cert=str(cert), tls_key=str(key))
    assert admin.url.startswith("https://127.0.0.1:")
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession() as session:
        async with session.get(admin.url + "/api/v1/whoami", ssl=trust, headers=admin.headers(Role.VIEWER)) as resp:
            assert resp.status == 200 and (await resp.json())["role"] == "viewer"
        # plain HTTP on the HTTPS port gets no answer from the API
        plain = admin.url.replace("https://", "http://")
        try:
            async with session.get(plain + "/healthz") as resp:
                assert resp.status == 400
        except aiohttp.ClientError:
            pass


async def test_edits_are_taken_with_relative_tls_paths(make_admin: AdminFactory) -> None:
    """tls_cert and tls_key relative to the config folder: an edit is checked in a scratch copy of the folder,
    and must still find the PEM files where the running config does."""
    folder: list[Path] = []

    def with_relative_tls(text: str) -> str:
        [line] = [line for line in text.splitlines() if line.startswith("state_dir = ")]
        config_folder = Path(line.split('"')[1]).parent
        cert, key = self_signed(config_folder)
        folder.append(config_folder)
        return text.replace("[admin]\n", f'[admin]\ntls_cert = "{cert.name}"\ntls_key = "{key.name}"\n')

    admin: Admin = await make_admin(config_text=with_relative_tls)
    assert admin.holder.current.admin.tls_cert == str(folder[0] / "admin-cert.pem")
    async with admin.session.patch(admin.url + "/api/v1/campaigns/lab", json={"calls_per_second": 7},
                                   headers=admin.headers(Role.SUPERVISOR), ssl=False) as resp:
        assert resp.status == 200, await resp.text()
    assert admin.holder.current.campaigns["lab"].calls_per_second == 7
    assert admin.holder.current.admin.tls_cert == str(folder[0] / "admin-cert.pem")
