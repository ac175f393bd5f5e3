"""taxonomy.yaml is validated when it is loaded: a malformed file is a clear ConfigError."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hub.errors import ConfigError
from hub.models import Category, Channel
from hub.understand import UnderstandSettings, enrich, mappings_dir
from hub.understand.classify import classify
from hub.understand.taxonomy import TextView, _LexiconLoader, load_taxonomy
from tests.understand.conftest import make_message

BASE = """\
version: 1
categories:
  logistics:
    label_zh: 物流配送
    zh:
      3: [没收到, 're:卡在.{0,4}不动']
      2: [快递]
    en: [delivery, "not arrived"]
  product_quality:
    zh: [坏了]
margin:
  customer_service: 2.0
tie_break: [product_quality, logistics]
default_category: other
channel_category:
  courier: logistics
severity:
  skip_channels: [courier]
  rules:
    safety: {zh: [冒烟], en: [smoke]}
  negation: {zh: [没有], en: [not, no]}
noise:
  complaint: {zh: [坏], en: [broken]}
  praise: {threshold: 1, en: [thanks]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_taxonomy_is_valid() -> None:
    taxonomy = load_taxonomy(UnderstandSettings().taxonomy_file())
    assert set(taxonomy.categories) == {c.value for c in Category}
    # YAML 1.1 would read the bare word `no` as False: the lexicon loader keeps it a word
    assert "no" in {term.word for term in taxonomy.negation.terms}


def test_a_valid_file_loads_and_works(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, BASE))
    assert classify(TextView.of("快递卡在上海不动了"), taxonomy) == Category.logistics
    assert classify(TextView.of("你好"), taxonomy) == Category.other
    assert "no" in {term.word for term in taxonomy.negation.terms}
    assert taxonomy.noise_thresholds == {"praise": 1.0}


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        # unknown category name
        ("  product_quality:\n", "  quality:\n", "categories.quality", "unknown category 'quality' (valid: "),
        (
            "tie_break: [product_quality, logistics]",
            "tie_break: [logistcs]",
            "tie_break[0]",
            "unknown category",
        ),
        ("default_category: other", "default_category: misc", "default_category", "unknown category 'misc'"),
        ("  courier: logistics", "  courier: shipping", "channel_category.courier", "unknown category"),
        ("  customer_service: 2.0", "  service: 2.0", "margin.service", "unknown category"),
        # weight that is not a number
        (
            "      2: [快递]",
            "      high: [快递]",
            "categories.logistics.zh.high",
            "weight 'high' is not a number",
        ),
        ("      2: [快递]", "      .nan: [快递]", "categories.logistics.zh.nan", "is not a number"),
        (
            "  customer_service: 2.0",
            "  customer_service: twice",
            "margin.customer_service",
            "is not a number",
        ),
        ("threshold: 1", "threshold: some", "noise.praise.threshold", "weight 'some' is not a number"),
        # invalid regular expression (it used to be skipped silently)
        (
            "'re:卡在.{0,4}不动'",
            "'re:卡在(.{0,4}不动'",
            "categories.logistics.zh.3[1]",
            "invalid regular expression",
        ),
        (
            "rules:\n    safety: {zh: [冒烟]",
            "rules:\n    safety: {zh: ['re:[冒烟']",
            "severity.rules.safety.zh[0]",
            "invalid",
        ),
        # missing section
        (
            "severity:\n  skip_channels: [courier]\n  rules:",
            "severity:\n  skip_channels: [courier]\n  rulez:",
            "severity.rulez",
            "unknown key",
        ),
        ("noise:\n", "noise_:\n", "noise_", "unknown section"),
        # wrong type
        (
            "    zh: [坏了]",
            "    zh: 坏了",
            "categories.product_quality.zh",
            "expected a list of words, found a string",
        ),
        (
            "    zh: [坏了]",
            "    zh: [[坏了]]",
            "categories.product_quality.zh[0]",
            "expected a word, found a list",
        ),
        (
            "    zh: [坏了]",
            "    zh: [{坏: 了}]",
            "categories.product_quality.zh[0]",
            "expected a word, found a mapping",
        ),
        ("    zh: [坏了]", "    zh: [true]", "categories.product_quality.zh[0]", "found a boolean"),
        (
            "  product_quality:\n    zh: [坏了]",
            "  product_quality: [坏了]",
            "categories.product_quality",
            "expected a mapping with zh and en lexicons, found a list",
        ),
        (
            "  product_quality:\n    zh: [坏了]",
            "  product_quality:\n    fr: [cassé]",
            "categories.product_quality.fr",
            "unknown key (valid: zh, en)",
        ),
        ("tie_break: [product_quality, logistics]", "tie_break: logistics", "tie_break", "expected a list"),
        (
            "  skip_channels: [courier]",
            "  skip_channels: courier",
            "severity.skip_channels",
            "expected a list",
        ),
        (
            "  skip_channels: [courier]",
            "  skip_channels: [fax]",
            "severity.skip_channels[0]",
            "unknown channel 'fax'",
        ),
        ("  courier: logistics", "  fax: logistics", "channel_category.fax", "unknown channel"),
        ("  praise: {threshold: 1", "  applause: {threshold: 1", "noise.applause", "unknown noise lexicon"),
        ("margin:\n  customer_service: 2.0", "margin: 2.0", "margin", "expected a mapping, found a number"),
        ("version: 1", "version: 2", "version", "unsupported version 2"),
    ],
)
def test_malformed_file(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message, message


@pytest.mark.parametrize("section", ["categories", "severity", "noise"])
def test_missing_section(tmp_path: Path, section: str) -> None:
    lines = BASE.splitlines(keepends=True)
    start = lines.index(f"{section}:\n")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    path = write(tmp_path, "".join(lines[:start] + lines[end:]))
    with pytest.raises(ConfigError, match=f"^{path}: {section}: missing section$"):
        load_taxonomy(path)


def test_missing_severity_rules(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("  rules:\n    safety: {zh: [冒烟], en: [smoke]}\n", ""))
    with pytest.raises(ConfigError, match=r"severity\.rules: missing section"):
        load_taxonomy(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "(top level): empty file"),
        ("- categories\n- severity\n", "(top level): expected a mapping, found a list"),
        ("categories: {logistics: {zh: [快递]}\n", "cannot read taxonomy file"),
        ("categories: {}\nseverity: {rules: {}}\nnoise: {}\n", "categories: no categories"),
    ],
)
def test_unusable_file(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_enrich_raises_the_config_error_instead_of_guessing(tmp_path: Path) -> None:
    """A broken installation must not be swallowed as a per-message understand error."""
    path = write(tmp_path, BASE.replace("default_category: other", "default_category: misc"))
    with pytest.raises(ConfigError, match="default_category: unknown category 'misc'"):
        enrich(make_message("快递没收到"), UnderstandSettings(taxonomy_path=path))


def test_via_mappings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(mappings_dir() / "taxonomy.yaml", tmp_path / "taxonomy.yaml")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    msg = enrich(make_message("快递三天了还没到"))
    assert msg.category == Category.logistics
    data = yaml.load((tmp_path / "taxonomy.yaml").read_text(encoding="utf-8"), Loader=_LexiconLoader)
    data["categories"]["payment_refund"]["en"] = ["refund", "re:money (back"]
    (tmp_path / "taxonomy.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ConfigError) as info:
        enrich(make_message("快递三天了还没到", channel=Channel.x))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'taxonomy.yaml'}: categories.payment_refund.en[1]: ")
    assert "invalid regular expression 're:money (back'" in message


def test_an_edited_file_is_reread(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    assert classify(TextView.of("你好"), load_taxonomy(path)) == Category.other
    path.write_text(BASE.replace("default_category: other", "default_category: logistics"), "utf-8")
    assert classify(TextView.of("你好"), load_taxonomy(path)) == Category.logistics
