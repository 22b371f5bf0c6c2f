#!/usr/bin/python3
"""Writes a qcow2 image with N persistent dirty bitmaps, made by QEMU
itself: qemu-storage-daemon adds them in QMP transactions and stores them
when it quits.  (qemu-img can add only one bitmap per run, and each run
rewrites the whole directory: 65535 of them would take hours.)

  make-many-bitmaps.py IMAGE COUNT [CLUSTER_SIZE] [DISK_SIZE]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def main():
    image, count = sys.argv[1], int(sys.argv[2])
    cluster = sys.argv[3] if len(sys.argv) > 3 else "512"
    size = sys.argv[4] if len(sys.argv) > 4 else "64M"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                    "cluster_size=" + cluster, image, size], check=True)
    sock_path = os.path.join(tempfile.mkdtemp(), "qmp.sock")
    daemon = subprocess.Popen([
        "qemu-storage-daemon",
        "--blockdev", "driver=file,node-name=file0,filename=" + image,
        "--blockdev", "driver=qcow2,node-name=disk0,file=file0",
        "--chardev", "socket,id=qmp0,path=%s,server=on,wait=off" % sock_path,
        "--monitor", "chardev=qmp0"])
    for _ in range(200):
        if os.path.exists(sock_path):
            break
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.readline()  # greeting

    def qmp(cmd, **args):
        f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                sys.exit("QMP %s: %s" % (cmd, reply["error"]))

    qmp("qmp_capabilities")
    batch = 1000
    for first in range(0, count, batch):
        actions = [{"type": "block-dirty-bitmap-add",
                    "data": {"node": "disk0", "name": "bitmap-%05d" % i,
                             "persistent": True}}
                   for i in range(first, min(count, first + batch))]
        qmp("transaction", actions=actions)
    f.write(json.dumps({"execute": "quit"}) + "\n")
    f.flush()
    daemon.wait(timeout=600)


if __name__ == "__main__":
    main()
