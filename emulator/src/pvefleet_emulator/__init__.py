"""An emulator of the Proxmox VE SDN REST API, for testing pvefleet.sdn."""
