"""Times python3-libtorrent's check of a torrent's existing data, for Benchmarks/recheck-compare.

    libtorrent_recheck.py TORRENT DATA_DIR

Adds the torrent without resume data (libtorrent then checks every piece on disk, as after
force_recheck) and prints the seconds from add_torrent to the end of the check and the pieces
found.
"""
import sys
import time

import libtorrent as lt

settings = lt.default_settings()
settings.update({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                 "enable_upnp": False, "enable_natpmp": False})
session = lt.session(settings)
start = time.monotonic()
handle = session.add_torrent({"ti": lt.torrent_info(sys.argv[1]), "save_path": sys.argv[2]})
while True:
    status = handle.status()
    if status.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data) and status.has_metadata \
            and time.monotonic() - start > 0.05:
        break
    time.sleep(0.01)
print("%.3f %d" % (time.monotonic() - start, status.num_pieces), flush=True)
