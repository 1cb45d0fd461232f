"""The execution environment: execution-environment.yml through `ansible-builder create`, and the
collection's own EE metadata (meta/execution-environment.yml) as ansible-builder reads it while it
builds an image. No container runtime is needed: the build stages that matter are run here."""
from __future__ import annotations

import re
import shlex
import subprocess

import pytest
import yaml
from ecosystem_support import BIN, GALAXY, REPO, TARBALL_NAME, clean_env
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

pytestmark = pytest.mark.ecosystem

DEFINITION = REPO / "execution-environment.yml"


def requirement_lines(path) -> list[str]:
    """A pip or bindep file's entries, without comments and blank lines."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def builder_create(definition, context) -> str:
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "--file", str(definition), "--context", str(context),
                           "--output-filename", "Containerfile"], capture_output=True, text=True, env=clean_env(),
                          cwd=context.parent, stdin=subprocess.DEVNULL, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (context / "Containerfile").read_text()


def introspect(context, collections_path, out, *user_args: str) -> tuple[list[str], list[str]]:
    """The builder stage's `introspect.py introspect` (the script ansible-builder put in the context) on
    an installed collections tree: the combined pip and bindep requirements it writes."""
    proc = subprocess.run([str(BIN / "python"), str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           str(collections_path), *user_args, f"--write-pip={out / 'requirements.txt'}",
                           f"--write-bindep={out / 'bindep.txt'}"],
                          capture_output=True, text=True, cwd=context / "_build", env=clean_env(), timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (out / "requirements.txt").read_text().splitlines(), (out / "bindep.txt").read_text().splitlines()


def test_definition_installs_this_collection_with_a_tested_ansible_core():
    definition = yaml.safe_load(DEFINITION.read_text())
    assert definition["version"] == 3
    deps = definition["dependencies"]
    (entry,) = deps["galaxy"]["collections"]
    assert entry["name"] == f"{GALAXY['namespace']}.{GALAXY['name']}"  # from Galaxy / Automation Hub by name
    assert GALAXY["version"] in SpecifierSet(entry["version"])
    assert (deps["python"], deps["system"]) == ("requirements.txt", "bindep.txt")
    # The same ansible-core range as the one the tests run with, and the lower bound meta/runtime.yml declares.
    tested = next(Requirement(line) for line in requirement_lines(REPO / "requirements-dev.txt")
                  if line.startswith("ansible-core"))
    in_ee = Requirement(deps["ansible_core"]["package_pip"])
    assert (in_ee.name, in_ee.specifier) == (tested.name, tested.specifier)
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    minimum = Version(runtime["requires_ansible"].removeprefix(">="))
    assert [Version(s.version) for s in in_ee.specifier if s.operator == ">="] == [minimum], \
        (runtime["requires_ansible"], str(in_ee.specifier))
    assert Requirement(deps["ansible_runner"]["package_pip"]).name == "ansible-runner"  # AWX starts jobs with it


@pytest.fixture(scope="module")
def built_context(tmp_path_factory):
    """`ansible-builder create` on the shipped definition: (context directory, Containerfile text)."""
    context = tmp_path_factory.mktemp("ee") / "context"
    return context, builder_create(DEFINITION, context)


def test_build_context_has_the_collection_and_its_requirements(built_context):
    context, containerfile = built_context
    definition = yaml.safe_load(DEFINITION.read_text())
    build = context / "_build"
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert f'ARG PYCMD="{definition["dependencies"]["python_interpreter"]["python_path"]}"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert "RUN /output/scripts/install-from-bindep" in containerfile
    assert "RUN /output/scripts/check_ansible $PYCMD" in containerfile
    assert yaml.safe_load((build / "requirements.yml").read_text()) == definition["dependencies"]["galaxy"]
    assert requirement_lines(build / "requirements.txt") == requirement_lines(REPO / "requirements.txt")
    assert requirement_lines(build / "bindep.txt") == requirement_lines(REPO / "bindep.txt")
    assert requirement_lines(REPO / "requirements.txt") and requirement_lines(REPO / "bindep.txt")


def test_installed_collection_brings_its_requirements_to_any_ee(built_context, collection, tmp_path):
    """An EE that only lists pvefleet.sdn (someone else's execution-environment.yml) gets our Python
    and system requirements from the installed collection's meta/execution-environment.yml."""
    context = built_context[0]
    meta = yaml.safe_load((collection.root / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    pip, bindep = introspect(context, collection.collections_path, tmp_path)
    assert pip == [f"{line}  # from collection pvefleet.sdn" for line in requirement_lines(REPO / "requirements.txt")]
    assert bindep == [f"{line}  # from collection pvefleet.sdn" for line in requirement_lines(REPO / "bindep.txt")]


def test_ee_from_a_local_tarball_builds_offline(collection, tmp_path):
    """Before a release (or without Galaxy): the same definition with the built tarball in the build
    context (docs/awx.md). The galaxy stage's own command installs it offline, then introspection
    finds the requirements, as in the image build."""
    definition = yaml.safe_load(DEFINITION.read_text())
    definition["dependencies"].update(
        galaxy={"collections": [{"name": f"collections/{TARBALL_NAME}", "type": "file"}]},
        python=str(REPO / "requirements.txt"), system=str(REPO / "bindep.txt"))
    definition["additional_build_files"] = [{"src": str(collection.tarball), "dest": "collections"}]
    definition["build_arg_defaults"] = {"ANSIBLE_GALAXY_CLI_COLLECTION_OPTS": "--offline"}
    local = tmp_path / "execution-environment.yml"
    local.write_text(yaml.safe_dump(definition, sort_keys=False))
    context = tmp_path / "context"
    containerfile = builder_create(local, context)
    build = context / "_build"
    assert (build / "collections" / TARBALL_NAME).read_bytes() == collection.tarball.read_bytes()

    # The galaxy stage: its RUN line, with the build arg filled in and the image's path moved here.
    (install,) = [line for line in containerfile.splitlines() if "ansible-galaxy collection install" in line]
    opts = re.search(r'^ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="(.*)"$', containerfile, re.M).group(1)
    collections = tmp_path / "usr-share-ansible-collections"
    command = install.removeprefix("RUN ").replace("$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS", opts)
    command = command.replace('"/usr/share/ansible/collections"', shlex.quote(str(collections)))
    words = shlex.split(command)
    variables = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    argv = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    assert argv[:3] == ["ansible-galaxy", "collection", "install"] and "--offline" in argv
    proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, cwd=build, timeout=120,
                          env=clean_env(ANSIBLE_HOME=str(tmp_path / "ansible-home"), **variables),
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = collections / "ansible_collections" / "pvefleet" / "sdn"
    assert (installed / "MANIFEST.json").is_file() and (installed / "meta" / "execution-environment.yml").is_file()

    # The builder stage's introspection, with the definition's own requirements as the "user" ones.
    pip, bindep = introspect(context, collections, tmp_path / "out", "--user-pip=requirements.txt",
                             "--user-bindep=bindep.txt")
    for line in requirement_lines(REPO / "requirements.txt"):
        assert f"{line}  # from collection pvefleet.sdn" in pip and f"{line}  # from collection user" in pip
    for line in requirement_lines(REPO / "bindep.txt"):
        assert f"{line}  # from collection pvefleet.sdn" in bindep
