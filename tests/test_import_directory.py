"""The directory importer: CSV, JSON and Slack exports, checked as a whole, written or not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.importers.directory import (
    import_directory,
    import_slack_users,
    load_profile_field_labels,
)
from data.importers.errors import ImportFailed
from data.importers.knowledge import skill_items
from data.models import Person
from data.store import Store, WriteCounts

DIRECTORY_CSV = "".join(
    line + "\n"
    for line in (
        "id,name,email,title,department,team,manager_id,location,timezone,slack_id,teams_id,"
        "skills,opted_out,desk",
        "p1,Ada Lovelace,ada@example.com,CTO,Engineering,,,London,Europe/London,U001,T001,"
        "leadership;architecture,no,4F",
        "p2,Dana Ng,Dana@Example.com,Staff SRE,Engineering,Platform,p1,Berlin,Europe/Berlin,"
        "U002,T002,kubernetes; helm;terraform,,",
        "p3,Sam Roe,sam@example.com,SRE,Engineering,Platform,p2,,,U003,,,,",
    )
)


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write an input file into the test's folder."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def snapshot(store: Store) -> tuple[int, int, int, int]:
    """Row counts and the change counter: equal snapshots mean nothing was written."""
    return (
        store.count("people"),
        store.count("contacts"),
        store.count("knowledge"),
        store.current_seq(),
    )


def failure(store: Store, importer, path: Path, **kwargs) -> list[str]:
    """Run an import that must fail; check nothing was written; return its problems."""
    before = snapshot(store)
    with pytest.raises(ImportFailed) as info:
        importer(store, path, **kwargs)
    assert snapshot(store) == before
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def csv_file(tmp_path: Path, *rows: str, name: str = "people.csv") -> Path:
    """A directory CSV with the standard header and these rows."""
    return write(tmp_path, name, DIRECTORY_CSV.splitlines()[0] + "\n" + "\n".join(rows) + "\n")


@pytest.fixture
def store() -> Store:
    return Store()


# ------------------------------------------------------------------------ good files


def test_csv_directory_is_imported_with_declared_skills_as_knowledge(store, tmp_path):
    result = import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))

    assert result.kind == "people"
    assert result.counts == WriteCounts(inserted=3)
    assert result.derived is not None
    assert result.derived.startswith("2 people have a manager; 1 team; skill items: 2 new")
    dana = store.get_person("p2")
    assert dana == Person(
        id="p2",
        name="Dana Ng",
        email="dana@example.com",
        title="Staff SRE",
        department="Engineering",
        team="Platform",
        manager_id="p1",
        location="Berlin",
        timezone="Europe/Berlin",
        slack_id="U002",
        teams_id="T002",
        skills=["kubernetes", "helm", "terraform"],
    )
    sam = store.get_person("p3")
    assert sam is not None and sam.timezone is None and sam.skills == [] and not sam.opted_out
    items = store.knowledge_items(["skill:p1", "skill:p2", "skill:p3"])
    assert sorted(items) == ["skill:p1", "skill:p2"]
    assert items["skill:p2"].kind == "skill"
    assert items["skill:p2"].title == "Skills of Dana Ng"
    assert items["skill:p2"].text == (
        "Dana Ng, Staff SRE on the Platform team. Skills: kubernetes, helm, terraform."
    )


def test_json_directory_accepts_a_list_or_a_people_object(store, tmp_path):
    people = [
        {"id": "p1", "name": "Ada Lovelace", "skills": ["leadership", "architecture"]},
        {
            "id": "p2",
            "name": "Dana Ng",
            "manager_id": "p1",
            "skills": "kubernetes;helm",
            "opted_out": True,
            "Team": "Platform",
            "unknown": {"nested": 1},
        },
    ]
    result = import_directory(store, write(tmp_path, "list.json", json.dumps(people)))
    assert result.counts == WriteCounts(inserted=2)
    dana = store.get_person("p2")
    assert dana is not None
    assert dana.skills == ["kubernetes", "helm"]
    assert dana.opted_out and dana.team == "Platform" and dana.manager_id == "p1"

    people[1]["title"] = "SRE"
    wrapped = write(tmp_path, "wrapped.json", json.dumps({"people": people}, indent=2))
    assert import_directory(store, wrapped).counts == WriteCounts(updated=1, unchanged=1)


def test_a_utf8_bom_and_multiline_quoted_values_are_read(store, tmp_path):
    # A column whoknows does not keep may hold several lines; the rows still line up.
    text = '\ufeffid,name,title,notes\np1,Ada,CTO,"Joined 1843.\r\nWrote notes."\np2,Dana,SRE,\n'
    import_directory(store, write(tmp_path, "bom.csv", text))
    ada, dana = store.get_person("p1"), store.get_person("p2")
    assert ada is not None and ada.title == "CTO"
    assert dana is not None and dana.title == "SRE"


def test_reimporting_the_same_file_changes_nothing(store, tmp_path):
    path = write(tmp_path, "people.csv", DIRECTORY_CSV)
    import_directory(store, path)
    before = snapshot(store)

    result = import_directory(store, path)

    assert result.counts == WriteCounts(unchanged=3)
    assert result.derived is not None and "skill items: 0 new, 0 updated, 2 unchanged" in (
        result.derived
    )
    assert snapshot(store) == before


def test_an_updated_file_updates_people_and_skill_items_in_place(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    updated = DIRECTORY_CSV.replace("Staff SRE", "Principal SRE")

    result = import_directory(store, write(tmp_path, "people.csv", updated))

    assert result.counts == WriteCounts(updated=1, unchanged=2)
    assert store.count("people") == 3 and store.count("knowledge") == 2
    dana = store.get_person("p2")
    assert dana is not None and dana.title == "Principal SRE"
    text = store.knowledge_items(["skill:p2"])["skill:p2"].text
    assert text.startswith("Dana Ng, Principal SRE on the Platform team.")


def test_columns_the_file_lacks_keep_stored_values_and_opt_outs(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    store.set_opted_out("p3", True)

    result = import_directory(
        store, write(tmp_path, "titles.csv", "id,name,title\np3,Sam Roe,Lead\n")
    )

    assert result.counts == WriteCounts(updated=1)
    sam = store.get_person("p3")
    assert sam is not None
    assert (sam.title, sam.slack_id, sam.manager_id, sam.opted_out) == ("Lead", "U003", "p2", True)


def test_an_empty_value_clears_a_stored_value(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    import_directory(store, write(tmp_path, "clear.csv", "id,name,location\np2,Dana Ng,\n"))
    dana = store.get_person("p2")
    assert dana is not None and dana.location is None and dana.team == "Platform"


def test_manager_may_already_be_in_the_store(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    result = import_directory(store, write(tmp_path, "new.csv", "id,name,manager_id\np4,Kim,p2\n"))
    assert result.counts == WriteCounts(inserted=1)


# ------------------------------------------------------------------------- bad files


def test_missing_required_columns_are_reported_once_on_the_header_line(store, tmp_path):
    path = write(tmp_path, "people.csv", "email,title\na@x.com,CTO\nb@x.com,SRE\n")
    assert failure(store, import_directory, path) == [
        f"{path}:1: missing required columns: id, name"
    ]


def test_a_json_field_no_object_has_is_reported_once_as_a_missing_column(store, tmp_path):
    people = [{"id": "p1", "full_name": "Ada"}, {"id": "p2", "full_name": "Dana"}]
    path = write(tmp_path, "people.json", json.dumps(people, indent=2))
    assert failure(store, import_directory, path) == [f"{path}:2: missing required column: name"]


def test_missing_values_and_duplicate_ids_are_all_reported_with_their_lines(store, tmp_path):
    path = csv_file(
        tmp_path,
        "p1,Ada,ada@example.com,,,,,,,,,,,",
        ",Nobody,,,,,,,,,,,,",
        "p2,,,,,,,,,,,,,",
        "p1,Ada Again,ada@example.com,,,,,,,,,,,",
        "p3,Sam,,,,,,,,,,,maybe,",
    )
    assert failure(store, import_directory, path) == [  # sorted by line
        f"{path}:3: missing required value: id",
        f"{path}:4: missing required value: name",
        f"{path}:5: duplicate id 'p1' (first on line 2)",
        f"{path}:6: opted_out: expected true/false/yes/no/1/0, got 'maybe'",
    ]


def test_duplicate_slack_teams_and_email_ids_are_refused(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    path = csv_file(
        tmp_path,
        "p4,Kim,kim@example.com,,,,,,,U004,T004,,,",
        "p5,Lee,KIM@example.com,,,,,,,U004,T005,,,",
        "p6,Max,max@example.com,,,,,,,U001,T002,,,",
        name="more.csv",
    )
    assert failure(store, import_directory, path) == [
        f"{path}:3: duplicate email 'kim@example.com' (first on line 2)",
        f"{path}:3: duplicate slack_id 'U004' (first on line 2)",
        f"{path}:4: slack_id 'U001' already belongs to 'p1'",
        f"{path}:4: teams_id 'T002' already belongs to 'p2'",
    ]


def test_unknown_manager_and_bad_timezone_are_refused_and_nothing_is_written(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    path = csv_file(
        tmp_path,
        "p4,Kim,,,,,p404,,,,,,,",
        "p5,Lee,,,,,p4,,Mars/Olympus_Mons,,,,,",
        "p6,Max,not-an-email,,,,p6,,,,,,,",
        name="more.csv",
    )
    assert failure(store, import_directory, path) == [  # by line; one line's in check order
        f"{path}:2: manager_id: unknown person 'p404' (not in this file or the directory)",
        f"{path}:3: timezone: unknown time zone 'Mars/Olympus_Mons'",
        f"{path}:4: email: not an email address: 'not-an-email'",
        f"{path}:4: manager_id: 'p6' is their own manager",
    ]


def test_management_cycle_is_refused_and_nothing_is_written(store, tmp_path):
    path = csv_file(
        tmp_path,
        "p0,Top,,,,,,,,,,,,",
        "p1,Ada,,,,,p3,,,,,,,",
        "p2,Dana,,,,,p1,,,,,,,",
        "p3,Sam,,,,,p2,,,,,,,",
    )
    assert failure(store, import_directory, path) == [
        f"{path}:3: management cycle: p1 → p3 → p2 → p1 (each reports to the next)"
    ]


def test_management_cycle_that_only_appears_when_merged_with_the_store_is_refused(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    # p1 is the top of the stored tree; making p3 (who reports to p2, who reports to p1)
    # p1's manager closes a loop that no single file shows.
    path = write(
        tmp_path,
        "change.json",
        '[\n  {"id": "p9", "name": "New"},\n'
        '  {"id": "p1", "name": "Ada Lovelace",\n   "manager_id": "p3"}\n]\n',
    )
    assert failure(store, import_directory, path) == [
        f"{path}:3: management cycle: p1 → p3 → p2 → p1 (each reports to the next)"
    ]


def test_bad_encoding_is_reported_with_the_line_of_the_first_bad_byte(store, tmp_path):
    content = "id,name\np1,Ada\np2,Zoë\n".encode("latin-1")
    path = write(tmp_path, "people.csv", content)
    problems = failure(store, import_directory, path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:3: not UTF-8: byte 0xeb")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("people.csv", "", "empty file (no records)"),
        ("people.csv", "  \n\n", "empty file (no records)"),
        ("people.csv", "id,name\n\n", "empty file (no people)"),
        ("people.json", "[]", "empty file (no people)"),
        ("people.json", '{"people": []}', "empty file (no people)"),
    ],
)
def test_an_empty_file_is_refused(store, tmp_path, name, content, reason):
    path = write(tmp_path, name, content)
    assert failure(store, import_directory, path) == [f"{path}: {reason}"]


def test_the_wrong_format_is_refused(store, tmp_path):
    xml = write(tmp_path, "people.xml", "<people/>")
    assert failure(store, import_directory, xml) == [
        f"{xml}: unsupported format '.xml' (expected .csv, .json or .jsonl)"
    ]
    shape = write(tmp_path, "people.json", '{"folks": [{"id": "p1", "name": "Ada"}]}')
    assert failure(store, import_directory, shape) == [
        f'{shape}:1: wrong shape: expected a JSON list of objects or an object with a "people" '
        "list, got an object"
    ]
    missing = tmp_path / "nope.csv"
    assert failure(store, import_directory, missing) == [f"{missing}: file not found"]


def test_malformed_json_is_reported_with_its_line(store, tmp_path):
    path = write(tmp_path, "people.json", '[\n  {"id": "p1", "name": "Ada"},\n  {"id": "p2",}\n]')
    problems = failure(store, import_directory, path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:3: malformed JSON:")


def test_json_problems_point_at_the_line_where_each_object_starts(store, tmp_path):
    people = [{"id": "p1", "name": "Ada"}, "p2", {"id": "p3", "name": ""}]
    path = write(tmp_path, "people.json", json.dumps(people, indent=2))
    assert failure(store, import_directory, path) == [
        f"{path}:6: expected an object, got text",
        f"{path}:7: missing required value: name",
    ]


def test_a_long_row_is_reported_and_other_rows_still_checked(store, tmp_path):
    path = write(tmp_path, "people.csv", "id,name\np1,Ada,extra\np2,\n")
    assert failure(store, import_directory, path) == [
        f"{path}:2: row has 3 values but the header has 2 columns",
        f"{path}:3: missing required value: name",
    ]


def test_control_characters_in_one_line_fields_are_refused_and_nothing_is_written(store, tmp_path):
    path = write(
        tmp_path,
        "people.csv",
        "id,name,email,title,team,timezone,skills,desk\n"
        "p0,Top,,,,,,\n"
        "p\x001,Ada,,,,,,\n"  # NUL in an id
        "p2,Dana \x1b[31mNg,,,,,,\n"  # a terminal escape in a name
        'p3,Sam,sam@x.com,"Staff\nSRE",Plat\x85form,,,\n'  # line break; C1 NEL
        "p4,Kim,k\x7fm@x.com,,,Europe/Ber\x00lin,k8s;he\tlm,\x00\n"  # DEL; NUL; tab
        "p5,\tLee\t,,,,,,\n",  # surrounding whitespace is stripped, not refused
    )
    assert failure(store, import_directory, path) == [
        f"{path}:3: id: control character U+0000 (NUL) at character 2",
        f"{path}:4: name: control character U+001B (ESC) at character 6",
        f"{path}:5: title: line break (U+000A) at character 6: this field must be one line",
        f"{path}:5: team: control character U+0085 (next line) at character 5",
        f"{path}:7: email: control character U+007F (DEL) at character 2",
        f"{path}:7: timezone: control character U+0000 (NUL) at character 11",
        f"{path}:7: skills: tab (U+0009) at character 7: this field must be one line",
    ]  # `desk` is not a column whoknows keeps: it is not looked at


def test_json_and_jsonl_are_refused_for_the_same_values_as_csv(store, tmp_path):
    people = [
        {"id": "p1", "name": "Ada", "manager_id": "p\u00002"},
        {"id": "p2", "name": "Dana", "slack_id": "U\u00802", "teams_id": "T\u007f"},
        {"id": "p3", "name": "Sam", "location": "Ber\nlin", "skills": ["ok", "b\u0007d"]},
        {"id": "p4", "name": "Kim", "department": "x" * 131_073},
    ]
    reasons = [
        "manager_id: control character U+0000 (NUL) at character 2",
        "slack_id: control character U+0080 at character 2",
        "teams_id: control character U+007F (DEL) at character 2",
        "location: line break (U+000A) at character 4: this field must be one line",
        "skills: control character U+0007 (BEL) at character 2",
        "department: 131,073 characters: more than the 131,072 a value may hold",
    ]
    jsonl = write(tmp_path, "people.jsonl", "".join(json.dumps(p) + "\n" for p in people))
    lines = (1, 2, 2, 3, 3, 4)
    assert failure(store, import_directory, jsonl) == [
        f"{jsonl}:{line}: {reason}" for line, reason in zip(lines, reasons, strict=True)
    ]
    listed = write(tmp_path, "people.json", json.dumps({"people": people}))
    assert failure(store, import_directory, listed) == [f"{listed}:1: {r}" for r in reasons]


def test_the_field_limit_is_the_same_for_csv_and_json(store, tmp_path):
    at_limit = "x" * 131_072
    csv_ok = write(tmp_path, "ok.csv", f"id,name,title\np1,Ada,{at_limit}\n")
    json_ok = write(
        tmp_path, "ok.json", json.dumps([{"id": "p2", "name": "Dana", "title": at_limit}])
    )
    assert import_directory(store, csv_ok).counts == WriteCounts(inserted=1)
    assert import_directory(store, json_ok).counts == WriteCounts(inserted=1)

    over = at_limit + "x"
    csv_bad = write(tmp_path, "bad.csv", f"id,name,title\np1,,\np3,Sam,{over}\np4,,\n")
    assert failure(store, import_directory, csv_bad) == [
        f"{csv_bad}:2: missing required value: name",
        f"{csv_bad}:3: a value is longer than the 131,072 characters a value may hold "
        "(reading stopped here)",
    ]
    json_bad = write(tmp_path, "bad.json", json.dumps([{"id": "p3", "name": over}]))
    assert failure(store, import_directory, json_bad) == [
        f"{json_bad}:1: name: 131,073 characters: more than the 131,072 a value may hold"
    ]


def test_a_problem_quoting_a_huge_value_is_cut_short(store, tmp_path):
    path = write(tmp_path, "people.csv", f"id,name,manager_id\np1,Ada,{'m' * 100_000}\n")
    [problem] = failure(store, import_directory, path)
    assert problem.startswith(f"{path}:2: manager_id: unknown person 'mmm")
    assert len(problem) < len(str(path)) + 600
    assert problem.endswith(" more characters)")


# ------------------------------------------------------------------------------ Slack


SLACK_PROFILE = {
    "ok": True,
    "profile": {
        "fields": [
            {"id": "Xf01", "ordering": 0, "label": "Department", "type": "text"},
            {"id": "Xf02", "ordering": 1, "label": "Team", "type": "text"},
            {"id": "Xf03", "ordering": 2, "label": "Manager", "type": "user"},
            {"id": "Xf04", "ordering": 3, "label": "Expertise", "type": "text"},
            {"id": "Xf05", "ordering": 4, "label": "Pronouns", "type": "text"},
        ]
    },
}


def slack_member(sid: str, real_name: str, email: str | None, **extra) -> dict:
    """A users.list member the way Slack returns one."""
    fields = extra.pop("fields", {})
    profile = {
        "real_name": real_name,
        "display_name": real_name.split()[0],
        "title": "",
        "fields": {k: {"value": v, "alt": ""} for k, v in fields.items()},
    }
    if email:
        profile["email"] = email
    if "title" in extra:
        profile["title"] = extra.pop("title")
    return {
        "id": sid,
        "team_id": "T0",
        "name": real_name.split()[0].lower(),
        "deleted": False,
        "real_name": real_name,
        "tz": "Europe/Berlin",
        "profile": profile,
        "is_bot": False,
        "is_app_user": False,
        **extra,
    }


def slack_members() -> list[dict]:
    return [
        slack_member(
            "U001",
            "Ada Lovelace",
            "ada@example.com",
            title="CTO",
            fields={"Xf01": "Engineering", "Xf04": "leadership, architecture"},
        ),
        slack_member(
            "U002",
            "Dana Ng",
            "dana@example.com",
            title="Staff SRE",
            fields={
                "Xf01": "Engineering",
                "Xf02": "Platform",
                "Xf03": "U001",
                "Xf04": "kubernetes; helm",
                "Xf05": "she/her",
            },
        ),
        slack_member("U0NEW", "Kim Park", None, tz="America/New_York"),
        slack_member("U0GONE", "Old Timer", "old@example.com", deleted=True),
        slack_member("B0BOT", "Deploy Bot", None, is_bot=True),
        slack_member("U0APP", "Some App", None, is_app_user=True),
        slack_member("USLACKBOT", "Slackbot", None),
    ]


def test_slack_export_with_a_team_profile_file_maps_custom_fields(store, tmp_path):
    labels_path = write(tmp_path, "fields.json", json.dumps(SLACK_PROFILE))
    export = write(tmp_path, "users.json", json.dumps({"ok": True, "members": slack_members()}))

    labels = load_profile_field_labels(labels_path)
    result = import_slack_users(store, export, field_labels=labels)

    assert labels["Xf03"] == "Manager"
    assert result.counts == WriteCounts(inserted=3)
    assert store.person_ids() == {"U001", "U002", "U0NEW"}
    dana = store.get_person("U002")
    assert dana == Person(
        id="U002",
        name="Dana Ng",
        email="dana@example.com",
        title="Staff SRE",
        department="Engineering",
        team="Platform",
        manager_id="U001",
        timezone="Europe/Berlin",
        slack_id="U002",
        skills=["kubernetes", "helm"],
    )
    kim = store.get_person("U0NEW")
    assert kim is not None and kim.timezone == "America/New_York" and kim.title is None
    assert "skill:U001" in store.knowledge_items(["skill:U001"])


def test_slack_members_matching_a_stored_email_update_that_person(store, tmp_path):
    import_directory(store, write(tmp_path, "people.csv", DIRECTORY_CSV))
    store.set_opted_out("p1", True)
    export = write(tmp_path, "users.json", json.dumps({"ok": True, "members": slack_members()}))

    result = import_slack_users(
        store,
        export,
        field_labels=load_profile_field_labels(
            write(tmp_path, "fields.json", json.dumps(SLACK_PROFILE))
        ),
    )

    assert result.counts == WriteCounts(inserted=1, updated=2)
    assert store.count("people") == 4
    dana = store.get_person("p2")
    ada = store.get_person("p1")
    assert dana is not None and ada is not None
    assert dana.manager_id == "p1"  # Slack's U001 is the stored p1
    assert dana.skills == ["kubernetes", "helm"] and dana.teams_id == "T002"
    assert ada.opted_out and ada.location == "London"  # Slack has no say on these


def test_slack_pages_with_embedded_labels_are_routed_from_import_directory(store, tmp_path):
    members = slack_members()
    pages = [
        {
            "ok": True,
            "members": members[:2],
            "profile_fields": SLACK_PROFILE["profile"]["fields"],
            "response_metadata": {"next_cursor": "abc"},
        },
        {"ok": True, "members": members[2:], "response_metadata": {"next_cursor": ""}},
    ]
    path = write(tmp_path, "users.json", json.dumps(pages, indent=2))

    result = import_directory(store, path)

    assert result.counts == WriteCounts(inserted=3)
    dana = store.get_person("U002")
    assert dana is not None and dana.manager_id == "U001" and dana.team == "Platform"
    assert import_directory(store, path).counts == WriteCounts(unchanged=3)


def test_import_directory_uses_a_sibling_team_profile_file(store, tmp_path):
    write(tmp_path, "team.profile.get.json", json.dumps(SLACK_PROFILE))
    path = write(tmp_path, "users.json", json.dumps(slack_members()))  # a plain member list

    import_directory(store, path)

    dana = store.get_person("U002")
    assert dana is not None and dana.department == "Engineering"


def test_a_custom_label_map_picks_other_fields(store, tmp_path):
    export = write(tmp_path, "users.json", json.dumps({"ok": True, "members": slack_members()}))
    import_slack_users(
        store,
        export,
        field_labels={"Xf05": "Pronouns", "Xf01": "Department"},
        label_map={"Pronouns": "location"},
    )
    dana = store.get_person("U002")
    assert dana is not None and dana.location == "she/her" and dana.department is None


def test_slack_manager_outside_the_export_and_store_is_refused(store, tmp_path):
    members = slack_members()
    members[1]["profile"]["fields"]["Xf03"]["value"] = "U404"
    members[2]["profile"]["fields"] = {"Xf03": {"value": "U0GONE", "alt": ""}}
    members.append({"id": "U0X", "profile": {}, "name": ""})
    path = write(tmp_path, "users.json", json.dumps({"ok": True, "members": members}, indent=1))
    labels = {"Xf03": "Manager"}
    problems = failure(store, import_slack_users, path, field_labels=labels)
    text = json.dumps({"ok": True, "members": members}, indent=1).splitlines()
    lines = [i for i, line in enumerate(text, start=1) if line == "  {"]
    assert problems == [
        f"{path}:{lines[1]}: Manager: unknown manager 'U404' (not in the export or the directory)",
        f"{path}:{lines[2]}: Manager: manager 'U0GONE' is a deactivated Slack account (or a bot)",
        f"{path}:{lines[7]}: missing required value: name (no real_name or name)",
    ]


def test_slack_member_values_with_control_characters_are_refused(store, tmp_path):
    members = slack_members()
    members[0]["profile"]["real_name"] = "Ada\x00 Lovelace"
    members[1]["profile"]["title"] = "Staff\nSRE"
    members[1]["profile"]["fields"]["Xf02"]["value"] = "Plat\x1bform"
    members[1]["profile"]["fields"]["Xf04"]["value"] = "helm; x" * 20_000
    members[2]["id"] = "U0\x7fNEW"
    path = write(tmp_path, "users.json", json.dumps({"ok": True, "members": members}, indent=1))
    labels = {"Xf02": "Team", "Xf04": "Expertise"}
    problems = failure(store, import_slack_users, path, field_labels=labels)
    text = json.dumps({"ok": True, "members": members}, indent=1).splitlines()
    lines = [i for i, line in enumerate(text, start=1) if line == "  {"]
    assert problems == [
        f"{path}:{lines[0]}: profile.real_name: control character U+0000 (NUL) at character 4",
        f"{path}:{lines[1]}: profile.title: line break (U+000A) at character 6: this field "
        "must be one line",
        f"{path}:{lines[1]}: Team: control character U+001B (ESC) at character 5",
        f"{path}:{lines[1]}: Expertise: 140,000 characters: more than the 131,072 a value may hold",
        f"{path}:{lines[2]}: id: control character U+007F (DEL) at character 3",
    ]


def test_a_json_object_that_is_not_a_slack_export_is_refused_by_import_slack_users(store, tmp_path):
    path = write(tmp_path, "users.json", '{"ok": true, "channels": []}')
    problems = failure(store, import_slack_users, path)
    assert problems[0].startswith(f"{path}:1: wrong shape: expected a Slack users.list export")
    error = write(tmp_path, "error.json", '{"ok": false, "error": "invalid_auth", "members": []}')
    assert failure(store, import_directory, error) == [
        f"{error}:1: the export is a Slack error response: 'invalid_auth'"
    ]


def test_a_bad_team_profile_file_is_refused(tmp_path):
    path = write(tmp_path, "fields.json", '{"ok": true, "profile": {"fields": [{"id": "Xf01"}]}}')
    with pytest.raises(ImportFailed) as info:
        load_profile_field_labels(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1: profile field without an id or label"
    ]


# ----------------------------------------------------------------------- skill items


def test_skill_items_describe_people_with_whatever_is_known():
    people = [
        Person(id="a", name="Dana Ng", title="Staff SRE", team="Platform", skills=["k8s"]),
        Person(id="b", name="Kim", team="Data Team", skills=["sql", "dbt"]),
        Person(id="c", name="Lee", title="Designer", skills=["figma"]),
        Person(id="d", name="Max", skills=["go"]),
        Person(id="e", name="Nobody"),
    ]
    texts = {i.id: i.text for i in skill_items(people)}
    assert texts == {
        "skill:a": "Dana Ng, Staff SRE on the Platform team. Skills: k8s.",
        "skill:b": "Kim, on the Data Team. Skills: sql, dbt.",
        "skill:c": "Lee, Designer. Skills: figma.",
        "skill:d": "Max. Skills: go.",
    }
