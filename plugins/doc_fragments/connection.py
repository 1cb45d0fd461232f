# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How to reach one Proxmox VE remote; mirrors _argspec.CONNECTION.
    DOCUMENTATION = r"""
options:
  api_host:
    description:
      - Host name or IP address of the Proxmox VE remote (any node of the cluster).
      - Falls back to the host variable C(pvefleet_sdn_api_host), then to the environment variable E(PROXMOX_HOST).
      - Required, from one of those sources.
    type: str
  api_port:
    description:
      - TCP port of the Proxmox VE API.
      - Falls back to C(pvefleet_sdn_api_port), then E(PROXMOX_PORT); C(8006) when none is set.
    type: int
  api_user:
    description:
      - The user, as C(user@realm), for example C(root@pam) or C(automation@pve).
      - With API token authentication this is the user that owns the token.
      - Falls back to C(pvefleet_sdn_api_user), then E(PROXMOX_USER).
      - Required, from one of those sources.
    type: str
  api_password:
    description:
      - Password of O(api_user), for ticket authentication.
      - Use either O(api_password) or O(api_token_id) with O(api_token_secret).
      - Falls back to C(pvefleet_sdn_api_password), then E(PROXMOX_PASSWORD).
    type: str
  api_token_id:
    description:
      - Name of the API token of O(api_user), without the user part (C(fleet) for C(root@pam!fleet)).
      - Falls back to C(pvefleet_sdn_api_token_id), then E(PROXMOX_TOKEN_ID).
    type: str
  api_token_secret:
    description:
      - Secret of the API token O(api_token_id).
      - Falls back to C(pvefleet_sdn_api_token_secret), then E(PROXMOX_TOKEN_SECRET).
    type: str
  validate_certs:
    description:
      - Verify the remote's TLS certificate against the system's CAs or O(ca_path).
      - Setting this to V(false) is an explicit choice to talk to an unverified remote; prefer O(ca_path) or O(fingerprint).
      - Falls back to C(pvefleet_sdn_validate_certs), then E(PROXMOX_VALIDATE_CERTS); V(true) when none is set.
    type: bool
  ca_path:
    description:
      - A PEM file of CA certificates to verify the remote's certificate with (for a self-signed remote, its C(pve-root-ca.pem) or its own certificate).
      - Falls back to C(pvefleet_sdn_ca_path), then E(PROXMOX_CA_PATH).
    type: path
  fingerprint:
    description:
      - SHA-256 fingerprint of the remote's certificate, as Proxmox shows it (C(AA:BB:...)) or as plain hex.
      - When set, the connection is accepted only if the certificate has this fingerprint, checked before any request
        (and so any credential) is sent; chain and host name checks are then skipped, as Proxmox Datacenter Manager does
        for pinned remotes.
      - Falls back to C(pvefleet_sdn_fingerprint).
    type: str
  api_timeout:
    description:
      - Seconds to wait for the remote to answer one request.
      - Falls back to C(pvefleet_sdn_api_timeout); C(30) when none is set.
    type: float
notes:
  - "API calls run on the Ansible controller: the action plugin runs them there, whatever the host's connection."
  - Requires the Python libraries C(httptools) and C(pydantic) on the controller.
"""
