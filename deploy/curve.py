"""CurveZMQ keys for remote planner links: making them, loading them, and who must use them.

A keys directory (`DeploySpec.curve_keys_dir`, made by `robot-stack keys generate DIR`)::

    DIR/                          0700
      server.key                  the planner host's public key: copy it to every robot PC
      server.key_secret           its secret key (0600): stays on the planner host
      clients/<name>.key          public keys of the clients the server accepts (one per robot PC)
      <name>.key_secret           a client's secret key (0600): goes to that robot PC only
      <name>.key                  that client's public key

Files use ZeroMQ's certificate format (`zmq.auth.load_certificate` reads them). The planner host
needs server.key_secret and clients/; a robot PC needs server.key and its own <name>.key_secret.
A secret key file that group or others may read is refused, as ssh refuses a private key.

Which endpoints need keys: a `tcp://` endpoint whose host is not loopback (127.0.0.0/8, ::1,
localhost) — binding `tcp://*:5555` or `tcp://0.0.0.0:5555` counts as non-loopback. `inproc://`
and `ipc://` never leave the machine (ipc is guarded by file permissions).
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from robot_stack.errors import RobotStackError

SERVER = "server"
CLIENTS_DIR = "clients"
DEFAULT_CLIENT = "robot"

_SECRET_TEMPLATE = """#   ****  Generated on {date} by robot-stack keys  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
curve
    public-key = "{public}"
    secret-key = "{secret}"
"""
_PUBLIC_TEMPLATE = """#   ****  Generated on {date} by robot-stack keys  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.

metadata
curve
    public-key = "{public}"
"""


def endpoint_host(endpoint: str) -> str | None:
    """The host part of a tcp:// endpoint (None for other transports)."""
    if not endpoint.startswith("tcp://"):
        return None
    rest = endpoint[len("tcp://") :]
    if ";" in rest:  # tcp://source;destination: the destination decides
        rest = rest.split(";", 1)[1]
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return host.strip("[]")


def is_loopback(endpoint: str) -> bool:
    """True for inproc://, ipc:// and tcp:// on a loopback address."""
    if endpoint.startswith(("inproc://", "ipc://")):
        return True
    host = endpoint_host(endpoint)
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a host name: assume it reaches the network


def needs_curve(endpoint: str) -> bool:
    """Whether an endpoint must be authenticated and encrypted (a non-loopback tcp:// endpoint)."""
    if not endpoint.startswith(("inproc://", "ipc://", "tcp://")):
        raise RobotStackError(
            f"endpoint {endpoint!r} is not inproc://, ipc:// or tcp://",
            hint="write e.g. inproc://plan, ipc:///tmp/robot_stack/plan.sock or tcp://10.0.0.5:5555",
        )
    return endpoint.startswith("tcp://") and not is_loopback(endpoint)


@dataclass(frozen=True)
class GeneratedKeys:
    directory: Path
    created: tuple[Path, ...]  # files written by this call
    kept: tuple[Path, ...]  # files that existed and were left alone


def generate_keys(
    directory: str | Path, clients: tuple[str, ...] = (DEFAULT_CLIENT,), force: bool = False
) -> GeneratedKeys:
    """Make the server key pair and one key pair per client in `directory` (created 0700).

    Existing keys are kept unless `force`, so running it again with a new client name adds that
    client without invalidating the others."""
    directory = Path(directory).expanduser()
    for name in clients:
        if not name or not name.replace("_", "").replace("-", "").isalnum() or name == SERVER:
            raise RobotStackError(
                f"client name {name!r} is not usable",
                hint="use letters, digits, - and _ (and not 'server'), e.g. --client robot1",
            )
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    (directory / CLIENTS_DIR).mkdir(exist_ok=True)
    created, kept = [], []
    pairs = [(directory / f"{SERVER}.key", directory / f"{SERVER}.key_secret", None)]
    pairs += [
        (directory / f"{name}.key", directory / f"{name}.key_secret", directory / CLIENTS_DIR / f"{name}.key")
        for name in clients
    ]
    for public_path, secret_path, authorized_path in pairs:
        keep = secret_path.exists() and public_path.exists() and not force
        if keep:
            kept += [public_path, secret_path]
            public = zmq.auth.load_certificate(public_path)[0]
        else:
            public, secret = zmq.curve_keypair()
            _write(secret_path, _SECRET_TEMPLATE, public, secret, 0o600)
            _write(public_path, _PUBLIC_TEMPLATE, public, None, 0o644)
            created += [public_path, secret_path]
        if authorized_path is not None:
            if keep and authorized_path.exists():
                kept.append(authorized_path)
            else:
                _write(authorized_path, _PUBLIC_TEMPLATE, public, None, 0o644)
                created.append(authorized_path)
    return GeneratedKeys(directory, tuple(created), tuple(kept))


def _write(path: Path, template: str, public: bytes, secret: bytes | None, mode: int) -> None:
    text = template.format(
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        public=public.decode(),
        secret=secret.decode() if secret else "",
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)  # never world-readable, not even briefly
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _load_secret(path: Path) -> tuple[bytes, bytes]:
    if not path.is_file():
        raise RobotStackError(
            f"no secret key at {path}",
            hint=f"make keys with `robot-stack keys generate {path.parent}` and copy the right files here",
        )
    if path.stat().st_mode & 0o077:
        raise RobotStackError(
            f"secret key {path} can be read by other users (mode {oct(path.stat().st_mode & 0o777)})",
            hint=f"chmod 600 {path}",
        )
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise RobotStackError(f"cannot read the key file {path}: {exc}", hint="make new keys") from None
    if not secret:
        raise RobotStackError(f"{path} holds no secret key", hint="use the .key_secret file")
    return public, secret


def _load_public(path: Path) -> bytes:
    if not path.is_file():
        raise RobotStackError(
            f"no public key at {path}",
            hint="copy server.key from the planner host's keys directory (robot-stack keys generate)",
        )
    try:
        return zmq.auth.load_certificate(path)[0]
    except (OSError, ValueError) as exc:
        raise RobotStackError(f"cannot read the key file {path}: {exc}", hint="copy it again") from None


@dataclass(frozen=True)
class CurveServerKeys:
    public: bytes
    secret: bytes
    authorized_dir: Path

    @classmethod
    def load(cls, directory: str | Path) -> CurveServerKeys:
        directory = Path(directory).expanduser()
        public, secret = _load_secret(directory / f"{SERVER}.key_secret")
        authorized = directory / CLIENTS_DIR
        if not authorized.is_dir() or not any(authorized.glob("*.key")):
            raise RobotStackError(
                f"no authorised client keys in {authorized}",
                hint=f"`robot-stack keys generate {directory} --client NAME` adds one",
            )
        return cls(public, secret, authorized)


@dataclass(frozen=True)
class CurveClientKeys:
    public: bytes
    secret: bytes
    server_public: bytes

    @classmethod
    def load(cls, directory: str | Path, client: str = DEFAULT_CLIENT) -> CurveClientKeys:
        directory = Path(directory).expanduser()
        public, secret = _load_secret(directory / f"{client}.key_secret")
        return cls(public, secret, _load_public(directory / f"{SERVER}.key"))


# One ZAP authenticator per context (ZeroMQ allows one ZAP handler per context); reference-counted.
_AUTH_LOCK = threading.Lock()
_AUTHENTICATORS: dict[int, tuple[ThreadAuthenticator, int, Path]] = {}


def make_curve_server(socket: zmq.Socket, context: zmq.Context, keys: CurveServerKeys) -> None:
    """Make `socket` (before bind) a CURVE server that admits only the clients in keys.authorized_dir.
    Starts the context's authenticator thread on first use; `release_curve_server` stops it."""
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.get(id(context))
        if entry is None:
            auth = _start_authenticator(context)
            auth.configure_curve(domain="*", location=str(keys.authorized_dir))
            _AUTHENTICATORS[id(context)] = (auth, 1, keys.authorized_dir)
        else:
            auth, count, location = entry
            if location != keys.authorized_dir:
                raise RobotStackError(
                    f"one process serves Curve endpoints with two client key folders ({location}, {keys.authorized_dir})",
                    hint="use one keys directory for every endpoint of a process",
                )
            _AUTHENTICATORS[id(context)] = (auth, count + 1, location)
    socket.curve_server = True
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public


def _start_authenticator(context: zmq.Context, timeout_s: float = 2.0) -> ThreadAuthenticator:
    """A started ZAP authenticator. The previous one's inproc endpoint is released asynchronously after
    it stops, so a restart right after a stop retries briefly instead of failing."""
    deadline = time.monotonic() + timeout_s
    while True:
        auth = ThreadAuthenticator(context)
        try:
            auth.start()
            return auth
        except zmq.ZMQError as exc:
            if auth.zap_socket is not None:
                auth.zap_socket.close(linger=0)
            if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def release_curve_server(context: zmq.Context) -> None:
    """Undo one `make_curve_server` on this context; the last one stops the authenticator."""
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.get(id(context))
        if entry is None:
            return
        auth, count, location = entry
        if count > 1:
            _AUTHENTICATORS[id(context)] = (auth, count - 1, location)
            return
        del _AUTHENTICATORS[id(context)]
    auth.stop()


def make_curve_client(socket: zmq.Socket, keys: CurveClientKeys) -> None:
    """Make `socket` (before connect) a CURVE client of the server whose public key it holds."""
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_serverkey = keys.server_public
