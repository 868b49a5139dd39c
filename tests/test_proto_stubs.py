"""The stubs are generated from the contract, never edited, never stale; the contract follows
the API conventions (versioned package, ``…Service`` names, one request and one response per
RPC, lower_snake_case fields, ``_UNSPECIFIED`` zero values, a comment on every element)."""

from __future__ import annotations

import re
import shutil

import pytest

from server import stubs


@pytest.fixture(scope="module")
def pb():
    return stubs.load()


def test_loaded_stubs_are_byte_identical_to_a_fresh_generation(pb, tmp_path):
    generated = stubs.generate(tmp_path)
    assert any(p.name == "routing_pb2_grpc.py" for p in generated)
    loaded = sorted(p.relative_to(pb.folder) for p in pb.folder.rglob("*") if p.is_file() and
                    "__pycache__" not in p.parts)
    assert loaded == generated
    for rel in generated:
        assert (pb.folder / rel).read_bytes() == (tmp_path / rel).read_bytes(), f"{rel} differs"


def test_stubs_folder_follows_the_contract(pb, tmp_path):
    assert pb.folder.name == stubs.fingerprint()
    copy = tmp_path / "proto"
    shutil.copytree(stubs.PROTO_ROOT, copy)
    assert stubs.fingerprint(copy) == stubs.fingerprint()
    target = copy / stubs.PROTO_PACKAGE / "common.proto"
    target.write_text(target.read_text() + "\n// one more comment\n")
    assert stubs.fingerprint(copy) != stubs.fingerprint()  # an edited contract gets fresh stubs


def test_protoc_errors_are_reported(tmp_path):
    from planner.errors import PlannerError

    broken = tmp_path / "proto"
    shutil.copytree(stubs.PROTO_ROOT, broken)
    (broken / stubs.PROTO_PACKAGE / "common.proto").write_text('syntax = "proto3";\nmessage {')
    with pytest.raises(PlannerError, match="protoc failed"):
        stubs.generate(tmp_path / "out", broken)


def _files(pb):
    return [getattr(pb, name).DESCRIPTOR for name in vars(type(pb))["__dataclass_fields__"]
            if name.endswith("_pb2")]


def test_api_conventions(pb):
    snake = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
    for file in _files(pb):
        assert file.package == "routeplanner.v1"
        for service in file.services_by_name.values():
            assert service.name.endswith("Service")
            for method in service.methods:
                assert method.input_type.name == f"{method.name}Request"
                assert method.output_type.name == f"{method.name}Response"
        for message in file.message_types_by_name.values():
            for field in message.fields:
                assert snake.match(field.name), f"{message.name}.{field.name}"
        enums = list(file.enum_types_by_name.values())
        for enum in enums:
            assert enum.values[0].number == 0 and enum.values[0].name.endswith("_UNSPECIFIED"), enum.name


def test_every_element_has_a_comment():
    for path in sorted((stubs.PROTO_ROOT / stubs.PROTO_PACKAGE).glob("*.proto")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            text = line.strip()
            element = (re.match(r"^(message|service|enum|rpc|oneof)\s", text)
                       or re.match(r"^(optional\s+|repeated\s+)?[\w.]+\s+\w+\s*=\s*\d+;", text))
            if element:
                assert lines[i - 1].strip().startswith("//"), f"{path.name}:{i + 1} has no comment: {text}"
