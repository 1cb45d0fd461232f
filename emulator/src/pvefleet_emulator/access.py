"""PVE's access control for one remote: users, API tokens, groups, roles, ACLs, and the privileges
they give, as pve-access-control 9.1 computes them.

Sources (proxmox/pve-access-control at 5ccd07d, libpve-access-control 9.1.1; the privilege lists
are the same from 9.0.3, which added VM.Replicate, so they hold for every PVE 9.1.x):
  - AccessControl.pm: the privilege groups and `create_roles` (the built-in roles), `roles`
    (which roles a user or token has at a path), `normalize_path`, `check_path`, the user,
    realm, group, role and token ID formats, `verify_token`, `check_user_enabled`, and how
    `parse_user_config` reads ACL entries (propagate 0/1, entries of missing tokens dropped).
  - RPCEnvironment.pm: `permissions` (root@pam, tokens with and without privilege separation,
    the intersection of a privsep token's privileges with its user's), `check`, `check_any`,
    `exec_api2_perm_check` and `check_api2_permissions` (the schema's `permissions` entries),
    `get_effective_permissions` and `compute_api_permission`.
  - API2/ACL.pm `update_acl`, API2/User.pm `generate_token`, API2/Role.pm: what the control API's
    writes refuse, and their defaults (propagate 1, privsep 1).
Pools are not emulated (no pool has members), so their ACLs never reach /vms or /storage.
"""
from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Optional

from pvefleet_emulator.errors import ApiError

ROOT = "root@pam"

# AccessControl.pm `$privgroups`: per category the privileges of root only, of admins, of users,
# and of auditors. `create_roles` derives the built-in roles from them (below).
PRIVGROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "VM": {
        "root": (),
        "admin": ("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
                  "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate",
                  "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback"),
        "user": ("VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead",
                 "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt"),
        "audit": ("VM.Audit", "VM.GuestAgent.Audit"),
    },
    "Sys": {
        "root": ("Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"),
        "admin": ("Sys.Console", "Sys.Syslog"),
        "user": (),
        "audit": ("Sys.Audit",),
    },
    "Datastore": {
        "root": (),
        "admin": ("Datastore.Allocate", "Datastore.AllocateTemplate"),
        "user": ("Datastore.AllocateSpace",),
        "audit": ("Datastore.Audit",),
    },
    "SDN": {
        "root": (),
        "admin": ("SDN.Allocate", "SDN.Audit"),
        "user": ("SDN.Use",),
        "audit": ("SDN.Audit",),
    },
    "User": {
        "root": ("Realm.Allocate",),
        "admin": ("User.Modify", "Group.Allocate", "Realm.AllocateUser"),
        "user": (),
        "audit": (),
    },
    "Pool": {
        "root": (),
        "admin": ("Pool.Allocate",),
        "user": ("Pool.Audit",),
        "audit": ("Pool.Audit",),
    },
    "Mapping": {
        "root": (),
        "admin": ("Mapping.Modify",),
        "user": ("Mapping.Use",),
        "audit": ("Mapping.Audit",),
    },
}


def _builtin_roles() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """`create_roles`: every privilege of every group is valid, and Permissions.Modify (in no
    group); Administrator has them all, NoAccess none; PVE<cat>Admin and PVEAdmin get the admin,
    user and audit privileges, PVE<cat>User (only where the group has user privileges) the user
    and audit ones, PVEAuditor every audit privilege; PVEAdmin loses Mapping.Modify; and
    PVETemplateUser is VM.Clone and VM.Audit."""
    valid = {"Permissions.Modify"}
    roles: dict[str, set[str]] = {"NoAccess": set(), "PVEAdmin": set(), "PVEAuditor": set()}
    for category, group in PRIVGROUPS.items():
        valid.update(group["root"], group["admin"], group["user"], group["audit"])
        roles.setdefault(f"PVE{category}Admin", set()).update(group["admin"], group["user"], group["audit"])
        roles["PVEAdmin"].update(group["admin"], group["user"], group["audit"])
        if group["user"]:
            roles[f"PVE{category}User"] = set(group["user"]) | set(group["audit"])
        roles["PVEAuditor"].update(group["audit"])
    roles["PVEAdmin"].discard("Mapping.Modify")
    roles["PVETemplateUser"] = {"VM.Clone", "VM.Audit"}
    roles["Administrator"] = set(valid)
    return frozenset(valid), {name: frozenset(privs) for name, privs in roles.items()}


VALID_PRIVS, BUILTIN_ROLES = _builtin_roles()
ALL_PRIVS: dict[str, int] = {priv: 1 for priv in sorted(VALID_PRIVS)}  # what root@pam has everywhere

# ID formats (PVE/Auth/Plugin.pm `$user_regex`, `$realm_regex`, `$groupname_regex`; AccessControl.pm
# `$token_subid_regex` is the realm pattern, role names are `[A-Za-z0-9\.\-_]+`).
_USER = r"[^\s:/]+"
_REALM = r"[A-Za-z][A-Za-z0-9\.\-_]+"
USERID = re.compile(rf"({_USER})@({_REALM})")
TOKENID = re.compile(rf"(({_USER})@({_REALM}))!({_REALM})")
TOKEN_NAME = re.compile(_REALM)
GROUPID = re.compile(r"[A-Za-z0-9\.\-_]+")
ROLEID = re.compile(r"[A-Za-z0-9\.\-_]+")
# The realms the emulator knows: PAM and PVE's own, both checked against a stored password here.
REALMS = ("pam", "pve")


def verify_username(userid: str) -> Optional[str]:
    """Auth/Plugin.pm `verify_username`: 3 to 64 characters, `user@realm`."""
    if not isinstance(userid, str) or not 3 <= len(userid) <= 64 or not USERID.fullmatch(userid):
        return None
    return userid


def split_tokenid(authid: str) -> Optional[tuple[str, str]]:
    """(user, token name) of a full token ID `user@realm!name`, else None."""
    match = TOKENID.fullmatch(authid)
    return (match.group(1), match.group(4)) if match else None


# AccessControl.pm `normalize_path`: slashes collapsed, one trailing slash dropped, a leading one
# added; only alphanumerics and . - _ / are allowed (Perl's `$` also matches before a final newline,
# as Python's does).
_SLASHES = re.compile(r"/+")
_TRAILING = re.compile(r"/$")
_PATH_CHARS = re.compile(r"^(?:[^\W_]|[.\-_/])+$")


def normalize_path(path: Any) -> Optional[str]:
    if not isinstance(path, str) or not perl_true(path):
        return None
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if path.endswith("/") or path.endswith("/\n"):
        path = _TRAILING.sub("", path, count=1) or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path if _PATH_CHARS.match(path) else None


# AccessControl.pm `check_path`: the paths an ACL entry may be set on. [[:alnum:]] is `[^\W_]` here,
# [[:alnum:]\.\-\_] is `[\w.\-]`.
_ACL_PATH = re.compile(r"""^(
    /
    |/access |/access/groups |/access/groups/[\w.\-]+
    |/access/realm |/access/realm/[\w.\-]+
    |/nodes |/nodes/[\w.\-]+
    |/pool |/pool/[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}
    |/sdn
    |/sdn/controllers |/sdn/controllers/[\w\-]+
    |/sdn/dns |/sdn/dns/[^\W_]+
    |/sdn/fabrics |/sdn/fabrics/[^\W_]+
    |/sdn/ipams |/sdn/ipams/[^\W_]+
    |/sdn/prefix-lists |/sdn/prefix-lists/[^\W_]+
    |/sdn/route-maps |/sdn/route-maps/[^\W_]+
    |/sdn/zones |/sdn/zones/[\w.\-]+
    |/sdn/zones/[\w.\-]+/[\w.\-]+
    |/sdn/zones/[\w.\-]+/[\w.\-]+/[1-9][0-9]{0,3}
    |/storage |/storage/[\w.\-]+
    |/vms |/vms/[1-9][0-9]{2,}
    |/mapping |/mapping/[\w.\-]+ |/mapping/[\w.\-]+/[\w.\-]+
)$""", re.X | re.S)


def check_path(path: str) -> bool:
    return bool(_ACL_PATH.match(path))


def perl_true(value: Any) -> bool:
    """Perl truth: undef, "", "0" and 0 are false."""
    return value not in (None, "", "0", 0, False)


def _perl_split(path: str) -> list[str]:
    """Perl's `split("/", $path)`: a leading empty field kept, trailing ones dropped; roles()
    treats "/" as the one field ''."""
    if path == "/":
        return [""]
    parts = path.split("/")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def permission_denied(what: Optional[str] = None) -> ApiError:
    """pve-common Exception.pm `raise_perm_exc`: 403 "Permission check failed (WHAT)"."""
    return ApiError(403, f"Permission check failed ({what})\n" if what else "Permission check failed\n")


class AccessSpecError(ValueError):
    """A control API call the access configuration refuses (the text says why)."""


@dataclass
class Token:
    secret: str
    privsep: int = 1  # API2/User.pm generate_token: privsep defaults to 1
    expire: int = 0
    comment: str = ""


@dataclass
class User:
    password: Optional[str] = None  # None: no password login (PAM/PVE realm users without one)
    enable: int = 1
    expire: int = 0
    tokens: dict[str, Token] = field(default_factory=dict)
    comment: str = ""


class _AclNode:
    __slots__ = ("children", "users", "tokens", "groups")

    def __init__(self) -> None:
        self.children: dict[str, _AclNode] = {}
        self.users: dict[str, dict[str, int]] = {}
        self.tokens: dict[str, dict[str, int]] = {}
        self.groups: dict[str, dict[str, int]] = {}


ACL_KINDS = {"user": "users", "token": "tokens", "group": "groups"}
MAX_CACHED = 20000  # privileges cached per (caller, path); emptied when the configuration changes


class AccessConfig:
    """One cluster's user.cfg and token secrets, with PVE's privilege computation on top."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {ROOT: User()}
        self.groups: dict[str, set[str]] = {}
        self.custom_roles: dict[str, frozenset[str]] = {}
        # (path, "users"|"tokens"|"groups", ugid, role) -> propagate (0 or 1), path normalized
        self.acl: dict[tuple[str, str, str, str], int] = {}
        self._changed()

    # Derived state, rebuilt on every change

    def _changed(self) -> None:
        self._tree = _AclNode()
        for (path, kind, ugid, role), propagate in self.acl.items():
            node = self._tree
            for part in path.split("/"):  # AccessControl.pm find_acl_tree_node: every ancestor has a node
                if part:
                    node = node.children.setdefault(part, _AclNode())
            getattr(node, kind).setdefault(ugid, {})[role] = propagate
        root = self.users.get(ROOT)
        # Who has every privilege on every path: root@pam, and its tokens without privilege
        # separation (RPCEnvironment.pm permissions: such a token has exactly its user's privileges).
        self._root_tokens = frozenset(f"{ROOT}!{name}" for name, token in (root.tokens if root else {}).items()
                                      if not token.privsep)
        self._tokens = {f"{userid}!{name}": (userid, token) for userid, user in self.users.items()
                        for name, token in user.tokens.items()}
        self._cache: dict[tuple[str, str], dict[str, int]] = {}

    def role_privs(self, role: str) -> Optional[frozenset[str]]:
        return BUILTIN_ROLES.get(role) if role in BUILTIN_ROLES else self.custom_roles.get(role)

    def has_every_privilege(self, authid: str) -> bool:
        """root@pam, or one of its tokens without privilege separation: every check passes."""
        return authid == ROOT or authid in self._root_tokens

    # Privileges (RPCEnvironment.pm permissions, AccessControl.pm roles)

    def privileges(self, authid: str, path: Optional[str]) -> dict[str, int]:
        """Privilege -> propagate flag of `authid` (user or full token ID) at `path`."""
        if authid == ROOT:  # root can do anything, whatever the path
            return ALL_PRIVS
        if path is None:  # "ACL check called for undefined ACL path": nothing, for anyone else
            return {}
        if authid in self._root_tokens:
            return ALL_PRIVS
        key = (authid, path)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        owner = split_tokenid(authid)
        user_privs: dict[str, int] = {}
        if owner is not None:
            user = self.users.get(owner[0])
            token = user.tokens.get(owner[1]) if user else None
            if token is None:
                return {}
            user_privs = self.privileges(owner[0], path)
            if not token.privsep:
                return user_privs
        elif verify_username(authid) is None:
            return {}
        privs: dict[str, int] = {}
        for role, propagate in self._roles(authid, path).items():
            for priv in self.role_privs(role) or ():
                privs[priv] = privs.get(priv) or propagate  # propagated if any role giving it is
        if owner is not None and owner[0] != ROOT:
            # A privsep token has what both it and its user have; propagated only if both are.
            privs = {priv: user_privs[priv] and propagate for priv, propagate in privs.items() if priv in user_privs}
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = privs
        return privs

    def _roles(self, authid: str, path: str) -> dict[str, int]:
        """AccessControl.pm `roles`: walking from / to the path, the first of token entries, user
        entries and group entries (of groups the user is in) that applies at a node replaces
        everything found above it; an entry applies at the path itself, or below it if it
        propagates. NoAccess among the roles found leaves only NoAccess."""
        roles: dict[str, int] = {}
        node: Optional[_AclNode] = self._tree
        parts = _perl_split(path)
        last = len(parts) - 1
        for index, part in enumerate(parts):
            if part:
                node = node.children.get(part) if node is not None else None
            if node is None:
                break  # no entries from here on
            final = index == last
            for entries in (node.tokens.get(authid), node.users.get(authid)):
                if entries:
                    found = {role: flag for role, flag in entries.items() if final or flag}
                    if found:
                        roles = found
                        break
            else:
                found = {}
                for group, entries in node.groups.items():
                    if authid in self.groups.get(group, ()):
                        for role, flag in entries.items():
                            if final or flag:
                                # Perl keeps the last group's flag, in hash order; here a
                                # propagating one wins.
                                found[role] = max(flag, found.get(role, 0))
                if found:
                    roles = found
        if "NoAccess" in roles:
            return {"NoAccess": roles["NoAccess"]}
        return roles

    # Checks (RPCEnvironment.pm check, check_any)

    def check(self, authid: str, path: Optional[str], privs: Iterable[str], noerr: bool = False) -> bool:
        held = self.privileges(authid, path)
        for priv in privs:
            if priv not in held:
                if noerr:
                    return False
                raise permission_denied(f"{path or ''}, {priv}")
        return True

    def check_any(self, authid: str, path: Optional[str], privs: list[str] | tuple[str, ...],
                  noerr: bool = False) -> bool:
        held = self.privileges(authid, path)
        if any(priv in held for priv in privs):
            return True
        if noerr:
            return False
        raise permission_denied(f"{path or ''}, {'|'.join(privs)}")

    def effective(self, authid: str) -> dict[str, dict[str, int]]:
        """RPCEnvironment.pm `get_effective_permissions` (GET /access/permissions without `path`):
        the top-level paths and every path of the ACL tree, each with its privileges, where it
        has any."""
        paths = {"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"}
        paths.update(self.tree_paths())
        result = {}
        for path in sorted(paths):
            privs = self.privileges(authid, path)
            if privs:
                result[path] = dict(privs)
        return result

    def tree_paths(self) -> list[str]:
        """AccessControl.pm `iterate_acl_tree`: every node of the ACL tree, / and each ancestor of an
        entry's path included."""
        paths: list[str] = []

        def walk(path: str, node: _AclNode) -> None:
            paths.append(path)
            for child in sorted(node.children):
                walk(("" if path == "/" else path) + "/" + child, node.children[child])

        walk("/", self._tree)
        return paths

    # RPCEnvironment.pm `compute_api_permission`: the `cap` of a login.
    _CAP_PRIVS = {
        "vms": re.compile(r"VM\.|Permissions\.Modify"),
        "access": re.compile(r"(User|Group)\.|Permissions\.Modify"),
        "storage": re.compile(r"Datastore\.|Permissions\.Modify"),
        "nodes": re.compile(r"Sys\.|Permissions\.Modify"),
        "sdn": re.compile(r"SDN\.|Permissions\.Modify"),
        "dc": re.compile(r"Sys\.Audit|Sys\.Modify|SDN\."),
        "mapping": re.compile(r"Mapping\.|Permissions.Modify"),
    }
    _TOPLEVEL = re.compile(r"^/(\w+)")

    def capabilities(self, authid: str) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {name: {} for name in self._CAP_PRIVS}
        seen = set()
        for path in ["/", "/nodes", "/access/groups", "/vms", "/storage", "/sdn", "/mapping"] + self.tree_paths():
            if path in seen:
                continue
            seen.add(path)
            privs = self.privileges(authid, path)
            top = self._TOPLEVEL.match(path)
            toplevel = top.group(1) if top else "dc"
            if toplevel == "pool":
                for priv in privs:
                    if priv.startswith("VM."):
                        result["vms"][priv] = 1
                    elif priv.startswith("Datastore."):
                        result["storage"][priv] = 1
                    elif priv == "Permissions.Modify":
                        result["storage"][priv] = result["vms"][priv] = 1
                continue
            pattern = self._CAP_PRIVS.get(toplevel)
            if pattern is None:
                continue
            for priv in privs:
                if pattern.match(priv):
                    result[toplevel][priv] = 1
        return result

    # Authentication (AccessControl.pm verify_token, check_user_enabled)

    def user_enabled(self, userid: str, now: Optional[float] = None) -> bool:
        user = self.users.get(userid)
        if user is None or not user.enable:
            return False
        return not (user.expire and user.expire < (now if now is not None else time.time()))

    def verify_token(self, tokenid: str, secret: str, now: Optional[float] = None) -> bool:
        found = self._tokens.get(tokenid)  # only well-formed IDs get in (add_user, add_token)
        if found is None or not self.user_enabled(found[0], now):
            return False
        token = found[1]
        if token.expire and token.expire < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(secret.encode(), token.secret.encode())

    def verify_password(self, userid: str, password: str) -> bool:
        user = self.users.get(userid)
        if user is None or user.password is None:
            return False
        return hmac.compare_digest(password.encode(), user.password.encode())

    # Changes (the control API)

    def add_user(self, userid: str, *, password: Optional[str] = None, enable: bool = True, expire: int = 0,
                 groups: Iterable[str] = (), comment: str = "") -> None:
        if verify_username(userid) is None:
            raise AccessSpecError(f"value '{userid}' does not look like a valid user name")
        realm = userid.rsplit("@", 1)[1]
        if realm not in REALMS:
            raise AccessSpecError(f"domain '{realm}' does not exist (the emulator has the realms pam and pve)")
        if userid in self.users:
            raise AccessSpecError(f"user '{userid}' already exists")
        groups = list(groups)
        for group in groups:
            if group not in self.groups:
                raise AccessSpecError(f"no such group '{group}'")
        self.users[userid] = User(password=password, enable=int(bool(enable)), expire=int(expire or 0),
                                  comment=comment)
        for group in groups:
            self.groups[group].add(userid)
        self._changed()

    def remove_user(self, userid: str) -> None:
        """API2/User.pm delete_user: the user, its tokens, its group memberships and ACL entries."""
        if userid == ROOT:
            raise AccessSpecError("root@pam cannot be removed")
        if userid not in self.users:
            raise AccessSpecError(f"no such user ('{userid}')")
        del self.users[userid]
        for members in self.groups.values():
            members.discard(userid)
        self.acl = {key: flag for key, flag in self.acl.items()
                    if not (key[1] == "users" and key[2] == userid)
                    and not (key[1] == "tokens" and key[2].split("!", 1)[0] == userid)}
        self._changed()

    def add_token(self, userid: str, name: str, *, privsep: bool = True, expire: int = 0, secret: str,
                  comment: str = "") -> str:
        if userid not in self.users:
            raise AccessSpecError(f"no such user ('{userid}')")
        if not isinstance(name, str) or not TOKEN_NAME.fullmatch(name):
            raise AccessSpecError(f"tokenid: value does not match the regex pattern ({name!r})")
        if name in self.users[userid].tokens:
            raise AccessSpecError("Token already exists.")
        self.users[userid].tokens[name] = Token(secret=secret, privsep=int(bool(privsep)), expire=int(expire or 0),
                                                comment=comment)
        self._changed()
        return f"{userid}!{name}"

    def remove_token(self, tokenid: str) -> None:
        owner = split_tokenid(tokenid)
        user = self.users.get(owner[0]) if owner else None
        if owner is None or user is None or owner[1] not in user.tokens:
            raise AccessSpecError(f"no such token '{tokenid}'")
        del user.tokens[owner[1]]
        self.acl = {key: flag for key, flag in self.acl.items() if not (key[1] == "tokens" and key[2] == tokenid)}
        self._changed()

    def add_group(self, groupid: str, users: Iterable[str] = ()) -> None:
        if not isinstance(groupid, str) or not GROUPID.fullmatch(groupid):
            raise AccessSpecError(f"group name '{groupid}' contains invalid characters")
        if groupid in self.groups:
            raise AccessSpecError(f"group '{groupid}' already exists")
        members = set(users)
        for userid in members:
            if userid not in self.users:
                raise AccessSpecError(f"no such user ('{userid}')")
        self.groups[groupid] = members
        self._changed()

    def remove_group(self, groupid: str) -> None:
        if groupid not in self.groups:
            raise AccessSpecError(f"group '{groupid}' does not exist")
        del self.groups[groupid]
        self.acl = {key: flag for key, flag in self.acl.items() if not (key[1] == "groups" and key[2] == groupid)}
        self._changed()

    def add_role(self, roleid: str, privs: Iterable[str]) -> None:
        if not isinstance(roleid, str) or not ROLEID.fullmatch(roleid):
            raise AccessSpecError(f"role name '{roleid}' contains invalid characters")
        if roleid in BUILTIN_ROLES or roleid in self.custom_roles:
            raise AccessSpecError(f"role '{roleid}' already exists")
        privs = list(privs)
        for priv in privs:
            if priv not in VALID_PRIVS:
                raise AccessSpecError(f"invalid privilege '{priv}'")
        self.custom_roles[roleid] = frozenset(privs)
        self._changed()

    def remove_role(self, roleid: str) -> None:
        if roleid in BUILTIN_ROLES:
            raise AccessSpecError(f"auto-generated role '{roleid}' cannot be deleted")
        if roleid not in self.custom_roles:
            raise AccessSpecError(f"role '{roleid}' does not exist")
        del self.custom_roles[roleid]
        # PVE leaves its ACL entries in memory, and the next read of user.cfg drops them: the same
        # privileges (none) either way.
        self.acl = {key: flag for key, flag in self.acl.items() if key[3] != roleid}
        self._changed()

    def update_acl(self, path: str, roles: Iterable[str], *, users: Iterable[str] = (), tokens: Iterable[str] = (),
                   groups: Iterable[str] = (), propagate: bool = True, delete: bool = False) -> None:
        """API2/ACL.pm update_acl, as root (no Permissions.Modify check)."""
        users, tokens, groups, roles = list(users), list(tokens), list(groups), list(roles)
        if not (users or tokens or groups):
            raise AccessSpecError("either 'users', 'groups' or 'tokens' is required.")
        normalized = normalize_path(path)
        if normalized is None or (not delete and not check_path(normalized)):
            raise AccessSpecError(f"invalid ACL path '{path}'")
        if not roles:
            raise AccessSpecError("'roles' is required")
        for role in roles:
            if self.role_privs(role) is None:
                raise AccessSpecError(f"role '{role}' does not exist")
        for group in groups:
            if group not in self.groups:
                raise AccessSpecError(f"group '{group}' does not exist")
        for userid in users:
            if userid not in self.users:
                raise AccessSpecError(f"user '{userid}' does not exist")
        for tokenid in tokens:
            owner = split_tokenid(tokenid)
            if owner is None or owner[0] not in self.users or owner[1] not in self.users[owner[0]].tokens:
                raise AccessSpecError(f"no such token '{tokenid}'")
        flag = 1 if propagate else 0
        for role in roles:
            for kind, ids in (("groups", groups), ("users", users), ("tokens", tokens)):
                for ugid in ids:
                    if delete:
                        self.acl.pop((normalized, kind, ugid, role), None)
                    else:
                        self.acl[(normalized, kind, ugid, role)] = flag
        self._changed()

    # What the control API lists, and the state file

    def describe(self) -> dict:
        return {
            "users": {userid: {"enable": user.enable, "expire": user.expire, "password": user.password is not None,
                               "groups": sorted(g for g, members in self.groups.items() if userid in members),
                               "tokens": {name: {"privsep": t.privsep, "expire": t.expire}
                                          for name, t in sorted(user.tokens.items())}}
                      for userid, user in sorted(self.users.items())},
            "groups": {group: {"users": sorted(members)} for group, members in sorted(self.groups.items())},
            "roles": {**{name: {"privs": sorted(privs), "special": 1} for name, privs in sorted(BUILTIN_ROLES.items())},
                      **{name: {"privs": sorted(privs), "special": 0}
                         for name, privs in sorted(self.custom_roles.items())}},
            # As GET /access/acl lists them (API2/ACL.pm read_acl): path, type, ugid, roleid, propagate.
            "acl": [{"path": path, "type": kind[:-1], "ugid": ugid, "roleid": role, "propagate": flag}
                    for (path, kind, ugid, role), flag in sorted(self.acl.items())],
        }

    def to_dict(self) -> dict:
        return {
            "users": {userid: {"password": user.password, "enable": user.enable, "expire": user.expire,
                               "comment": user.comment,
                               "tokens": {name: {"secret": t.secret, "privsep": t.privsep, "expire": t.expire,
                                                 "comment": t.comment} for name, t in user.tokens.items()}}
                      for userid, user in self.users.items()},
            "groups": {group: sorted(members) for group, members in self.groups.items()},
            "roles": {name: sorted(privs) for name, privs in self.custom_roles.items()},
            "acl": [[path, kind, ugid, role, flag] for (path, kind, ugid, role), flag in self.acl.items()],
        }

    @classmethod
    def from_dict(cls, data: dict) -> AccessConfig:
        config = cls()
        config.users = {userid: User(password=item.get("password"), enable=int(item.get("enable", 1)),
                                     expire=int(item.get("expire") or 0), comment=item.get("comment") or "",
                                     tokens={name: Token(**token) for name, token in (item.get("tokens") or {}).items()})
                        for userid, item in (data.get("users") or {}).items()}
        config.users.setdefault(ROOT, User())  # AccessControl.pm userconfig_force_defaults
        config.groups = {group: set(members) for group, members in (data.get("groups") or {}).items()}
        config.custom_roles = {name: frozenset(privs) for name, privs in (data.get("roles") or {}).items()}
        config.acl = {(path, kind, ugid, role): int(flag) for path, kind, ugid, role, flag in data.get("acl") or []}
        config._changed()
        return config


# The schema's `permissions` entries (RPCEnvironment.pm check_api2_permissions, exec_api2_perm_check)

_TEMPLATE_FIELD = re.compile(r"\{([^}]+)\}")


@cache
def _template_parts(template: str) -> tuple[str, ...]:
    """The template split into text and field names: text at even indexes, names at odd ones."""
    return tuple(_TEMPLATE_FIELD.split(template))


def _template_value(value: Any) -> str:
    """pve-common Tools.pm `template_replace`: a parameter missing or false in Perl reads as '-';
    a list (a repeated form key) or an object becomes Perl's reference text, which no path allows."""
    if not perl_true(value):
        return "-"
    if isinstance(value, list):
        return "ARRAY(0x55d5c0ffee00)"
    if isinstance(value, dict):
        return "HASH(0x55d5c0ffee00)"
    if value is True:
        return "1"
    return str(value)


def template_replace(template: str, params: dict[str, Any]) -> str:
    parts = _template_parts(template)
    if len(parts) == 1:
        return template
    return "".join(part if index % 2 == 0 else _template_value(params.get(part)) for index, part in enumerate(parts))


def check_api2_permissions(access: AccessConfig, permissions: Optional[dict], authid: str,
                           params: dict[str, Any]) -> None:
    """Raise the 403 pveproxy answers when `authid` may not call an endpoint with these (raw,
    not yet validated) parameters; the path parameters are among them."""
    if not authid:
        if permissions and permissions.get("user") == "world":
            return
        raise permission_denied("user != null")
    if authid == ROOT:
        return
    if not permissions:
        raise permission_denied("user != root@pam")
    if permissions.get("user") == "all":
        return
    if permissions.get("check"):
        _exec_check(access, permissions["check"], authid, params, False)
        return
    raise permission_denied()


def _exec_check(access: AccessConfig, check: list, authid: str, params: dict[str, Any], noerr: bool) -> bool:
    test = check[0]
    if test == "and":  # each sub-check raises on failure, even under noerr (as in PVE)
        for sub in check[1:]:
            _exec_check(access, sub, authid, params, False)
        return True
    if test == "or":
        if any(_exec_check(access, sub, authid, params, True) for sub in check[1:]):
            return True
        if noerr:
            return False
        raise permission_denied()
    if test == "perm":
        template, privs = check[1], check[2]
        options = dict(zip(check[3::2], check[4::2]))
        needed = options.get("require_param")
        if needed and params.get(needed) is None:
            if noerr:
                return False
            raise permission_denied()
        path = normalize_path(template_replace(template, params))
        if options.get("any"):
            return access.check_any(authid, path, privs, noerr)
        return access.check(authid, path, privs, noerr)
    raise NotImplementedError(f"permission test {test!r} is not emulated")


# The configuration each remote starts with (and returns to on an access reset)

ROOT_TOKEN_NAME = "fleet"
SETUP_TOKEN_NAME = "fleet"


@dataclass(frozen=True)
class AccessSetup:
    """What the command line asks of every remote's access configuration: custom roles, and an API
    token for the inventory that carries `token_role` on `token_role_path` (propagated). A
    privsep token gets the ACL entry, and so does its user (a privsep token has only what both
    have); a token without privsep has its user's privileges, so only the user gets it. Without
    `token_role` the inventory's token is root@pam!fleet, with every privilege."""
    token_role: Optional[str] = None
    token_role_path: str = "/"
    token_privsep: bool = True
    token_user: str = "fleet@pve"
    roles: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def problems(self) -> list[str]:
        """Why this setup cannot be made, checked once, before any remote starts."""
        trial = AccessConfig()
        try:
            for name, privs in self.roles:
                trial.add_role(name, privs)
            if self.token_role is not None:
                if trial.role_privs(self.token_role) is None:
                    raise AccessSpecError(f"role '{self.token_role}' does not exist")
                if self.token_user == ROOT and not self.token_privsep:
                    raise AccessSpecError("a root@pam token without privilege separation has every privilege: "
                                          "use --token-privsep 1, or another --token-user")
                normalized = normalize_path(self.token_role_path)
                if normalized is None or not check_path(normalized):
                    raise AccessSpecError(f"invalid ACL path '{self.token_role_path}'")
                if self.token_user != ROOT:
                    trial.add_user(self.token_user)
        except AccessSpecError as exc:
            return [str(exc)]
        return []

    @property
    def token_id(self) -> str:
        """The inventory's token."""
        if self.token_role is None:
            return f"{ROOT}!{ROOT_TOKEN_NAME}"
        return f"{self.token_user}!{SETUP_TOKEN_NAME}"


def start_config(setup: AccessSetup, secrets: dict[str, str]) -> AccessConfig:
    """root@pam (password `secrets["root_password"]`) and root@pam!fleet (no privsep, secret
    `secrets["root_token_secret"]`), then what `setup` asks, with the secrets in `secrets`."""
    config = AccessConfig()
    config.users[ROOT].password = secrets["root_password"]
    config.users[ROOT].tokens[ROOT_TOKEN_NAME] = Token(secret=secrets["root_token_secret"], privsep=0)
    apply_setup(config, setup, secrets)
    return config


def apply_setup(config: AccessConfig, setup: AccessSetup, secrets: dict[str, str]) -> None:
    """Make `config` hold what `setup` asks (on a configuration read back after a restart too)."""
    for name, privs in setup.roles:
        config.custom_roles[name] = frozenset(privs)
    if setup.token_role is not None:
        user = config.users.get(setup.token_user)
        if user is None:
            user = config.users[setup.token_user] = User(password=secrets.get("setup_password"))
        name = SETUP_TOKEN_NAME
        token = user.tokens.get(name)
        if token is None:
            token = user.tokens[name] = Token(secret=secrets["setup_token_secret"])
        token.privsep = int(bool(setup.token_privsep))
        path = normalize_path(setup.token_role_path) or "/"
        if setup.token_privsep:
            config.acl[(path, "tokens", f"{setup.token_user}!{name}", setup.token_role)] = 1
        if setup.token_user != ROOT:
            config.acl[(path, "users", setup.token_user, setup.token_role)] = 1
    config._changed()  # pylint: disable=protected-access
