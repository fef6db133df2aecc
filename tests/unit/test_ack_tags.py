"""The controller's own tags (ack/tags.py): ACK's --resource-tags syntax and templates, ownership, retagging."""

from __future__ import annotations

import pytest

from ack.tags import (
    DEFAULT_RESOURCE_TAGS, LEGACY_OWNER_TAG, OWNER_TAG, ResourceTags, controller_tags, is_user_tag, owner_of, retag,
)


def test_acks_default_tags_render_as_ack_writes_them():
    tags = ResourceTags.parse(DEFAULT_RESOURCE_TAGS).render("shop", "orders", "ackflow-0.1.0")
    assert tags == {"services.k8s.aws/controller-version": "dynamodb-ackflow-0.1.0",
                    "services.k8s.aws/namespace": "shop"}


def test_every_template_variable_is_expanded_anywhere_in_a_value():
    tags = ResourceTags.parse("owner=%K8S_NAMESPACE%/%K8S_RESOURCE_NAME%, by = %CONTROLLER_SERVICE%")
    assert tags.render("shop", "orders", "v") == {"owner": "shop/orders", "by": "dynamodb"}


def test_empty_means_no_tags():
    assert ResourceTags.parse("").render("a", "b", "v") == {}


@pytest.mark.parametrize("text, named", [("team", "'team'"), ("a=b=c", "'a=b=c'"), ("=x", "'=x'"),
                                         ("k=", "'k='"), ("aws:x=1", "'aws:x'")])
def test_an_item_that_is_not_key_value_is_refused_naming_it(text, named):
    with pytest.raises(ValueError, match=f"--resource-tags: {named}"):
        ResourceTags.parse(text)


def test_the_controllers_tags_are_never_the_users():
    assert not is_user_tag("services.k8s.aws/namespace") and not is_user_tag(OWNER_TAG)
    assert not is_user_tag(LEGACY_OWNER_TAG) and not is_user_tag("aws:cloudformation:stack-name")
    assert is_user_tag("team")


def test_ownership_is_read_from_the_tag_or_its_former_name():
    assert owner_of({OWNER_TAG: "a/b"}) == "a/b"
    assert owner_of({LEGACY_OWNER_TAG: "a/b"}) == "a/b"
    assert owner_of({"team": "x"}) is None


def test_the_specs_value_wins_for_a_resource_tag_and_ownership_is_always_the_resources():
    wanted = controller_tags({"services.k8s.aws/namespace": "shop", "cost": "x"},
                             {"cost": "mine", OWNER_TAG: "other/one"}, "shop/orders")
    assert wanted == {"services.k8s.aws/namespace": "shop", "cost": "mine", OWNER_TAG: "shop/orders"}


def test_retagging_sets_what_differs_and_drops_the_former_ownership_tag():
    live = {LEGACY_OWNER_TAG: "shop/orders", "services.k8s.aws/namespace": "shop", "team": "a"}
    tag, untag = retag(live, {"services.k8s.aws/namespace": "shop", OWNER_TAG: "shop/orders"})
    assert (tag, untag) == ({OWNER_TAG: "shop/orders"}, [LEGACY_OWNER_TAG])
    assert retag({OWNER_TAG: "shop/orders"}, {OWNER_TAG: "shop/orders"}) == ({}, [])


def test_a_bad_ack_resource_tags_stops_a_command_before_it_starts(monkeypatch, capsys):
    from flows.cli import guarded
    monkeypatch.setenv("ACK_RESOURCE_TAGS", "team")
    ran = []
    assert guarded("apply", lambda: ran.append(1)) is None and ran == []
    assert "apply: ACK_RESOURCE_TAGS: 'team' is not KEY=VALUE" in capsys.readouterr().err
