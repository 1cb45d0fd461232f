"""Stands in for the pip bootstrap script ansible-test downloads from a host this network cannot
reach: the standard library's ensurepip, then pip itself installs what ansible-test asked for."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
