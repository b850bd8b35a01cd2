"""Seeds one torrent with python3-libtorrent for Benchmarks/compare.

    libtorrent_seed.py TORRENT DATA_DIR PORT default|high_performance_seed [encrypted]

With `encrypted`, MSE/PE is forced both ways with RC4 only (peers that do not encrypt are refused).
"""
import sys
import time

import libtorrent as lt

torrent, data, port, profile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
settings = lt.high_performance_seed() if profile == "high_performance_seed" else lt.default_settings()
settings.update({
    "listen_interfaces": "127.0.0.1:%s" % port,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    # The bench connects from many 127.x addresses; room for the idle runs (10,000 connections).
    "connections_limit": max(settings.get("connections_limit", 200), 19500),
})
if len(sys.argv) > 5 and sys.argv[5] == "encrypted":
    settings.update({"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2})
session = lt.session(settings)
handle = session.add_torrent({"ti": lt.torrent_info(torrent), "save_path": data, "flags": lt.torrent_flags.seed_mode})
print("ready", flush=True)
while True:
    time.sleep(60)
