"""The benchmark's own clusters: the main one (fsync off, data in /dev/shm unless --disk) and the
durable one (fsync, synchronous_commit, full_page_writes on; data on disk under target/)."""
import os
import shutil
import socket
import subprocess
from pathlib import Path

from .core import PG_CONFIG, ROOT, BenchError, say, sh

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
SETTINGS = ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_locks_per_transaction",
            "data_directory")


def free_port(start):
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise BenchError(f"no free port from {start}")


class Control:
    """scripts/cluster for one named cluster: start, stop, wipe; `on_disk`: data not in tmpfs."""

    def __init__(self, name, port, on_disk):
        self.name, self.port, self.on_disk = name, port, on_disk
        self.dir = ROOT / "target/clusters" / name
        self.shm = Path("/dev/shm") / f"revos-{name}-{port}"

    def start(self):
        r = sh([str(ROOT / "scripts/cluster"), "start", self.name, str(self.port)])
        if r.returncode != 0:
            raise BenchError(f"scripts/cluster start {self.name} failed:\n{r.stderr}")
        return r.stdout.strip().splitlines()[-1]

    def stop(self):
        subprocess.run([str(ROOT / "scripts/cluster"), "stop", self.name], check=True, cwd=ROOT)

    def wipe(self):
        subprocess.run([str(ROOT / "scripts/cluster"), "wipe", self.name], cwd=ROOT)
        subprocess.run(["rm", "-rf", str(self.shm)])

    def configure(self, settings):
        """Appends settings to postgresql.conf (later lines win) and restarts."""
        conf = self.dir / "data/postgresql.conf"
        with open(conf, "a") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.stop()
        return self.start()

    def create(self, settings):
        """A new cluster: wiped, data in /dev/shm unless on_disk, started with `settings`."""
        self.wipe()
        where = f"target/clusters/{self.name} (disk)"
        shm_ok = Path("/dev/shm").is_dir() and os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize > 6e9
        if not self.on_disk and shm_ok:
            # Creating (and dropping) thousands of relation files is what DDL costs on a disk, and on
            # ext4 it slows down while many inodes were deleted recently (other test clusters on this
            # machine churn them): both sides of every ratio would absorb that noise. In tmpfs the
            # ratios compare the CPU work of Postgres and revos only (fsync is off there anyway).
            self.shm.mkdir(parents=True)
            if os.getuid() == 0:
                shutil.chown(self.shm, "postgres", "postgres")
            self.dir.parent.mkdir(parents=True, exist_ok=True)
            self.dir.symlink_to(self.shm)
            where = f"target/clusters/{self.name} -> {self.shm} (tmpfs)"
        else:
            self.on_disk = True
        self.start()
        dsn = self.configure(settings)
        say(f"cluster {self.name}: {dsn}, data in {where}")
        return dsn, where


def server_settings(srv):
    return srv.one(srv.admin_db(), "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) "
                                   f"FROM pg_settings WHERE name IN ({', '.join(repr(s) for s in SETTINGS)})")


def is_durable(srv):
    """(True, '') when fsync, synchronous_commit and full_page_writes are on and the data
    directory is not in tmpfs; else (False, why)."""
    bad = [k for k, v in DURABLE.items() if srv.setting(k) != v]
    data = srv.setting("data_directory")
    real = os.path.realpath(data) if os.path.exists(data) else data
    if real.startswith("/dev/shm"):
        bad.append(f"data directory in tmpfs ({real})")
    return (not bad), ", ".join(bad)


def revos_installed():
    lib = Path(sh([str(PG_CONFIG), "--pkglibdir"]).stdout.strip()) / "revos.so"
    return lib.exists()
