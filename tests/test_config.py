import pytest

from chat_core.config import DEFAULT_BASE_URL, DEFAULT_DB, load_settings
from chat_core.errors import ConfigError
from locales import describe


def test_defaults():
    settings = load_settings(env={})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.cache == "off"
    assert settings.db == str(DEFAULT_DB)
    assert DEFAULT_DB.parent.name == "data"
    assert settings.api_key is None and not settings.has_key


def test_environment_wins_over_secrets():
    settings = load_settings(
        env={"ARK_MODEL": "ep-env"}, secrets={"ARK_MODEL": "ep-secret", "ARK_CACHE": "context"}
    )
    assert settings.model == "ep-env"
    assert settings.cache == "context"


def test_key_never_appears_in_repr():
    settings = load_settings(env={"ARK_API_KEY": "sk-very-secret"})
    assert settings.has_key
    assert "sk-very-secret" not in repr(settings)


def test_context_ttl_is_kept_in_the_documented_range():
    assert load_settings(env={"ARK_CONTEXT_TTL": "60"}).context_ttl == 3600
    assert load_settings(env={"ARK_CONTEXT_TTL": "99999999"}).context_ttl == 604800
    assert load_settings(env={"ARK_CONTEXT_TTL": "7200"}).context_ttl == 7200


@pytest.mark.parametrize(
    "name, value",
    [
        ("ARK_CACHE", "sometimes"),
        ("ARK_TEMPERATURE", "hot"),
        ("ARK_TEMPERATURE", "9"),
        ("ARK_MAX_TOKENS", "1.5"),
        ("CHAT_LANG", "fr"),
        ("ARK_THINKING", "maybe"),
        ("ARK_TEMPERATURE", "nan"),  # passes every range check, fails every reply
        ("ARK_TIMEOUT", "inf"),
        ("ARK_TIMEOUT", "nan"),
        ("ARK_MAX_RETRIES", "1000000"),
        ("CHAT_BUSY_TIMEOUT", "1e308"),  # in ms, no lock timeout PostgreSQL takes
        ("CHAT_BUSY_TIMEOUT", "-inf"),
        ("ARK_BASE_URL", "http://[::1"),
        ("ARK_BASE_URL", "https://ark.cn-beijing.volces.com:443x/api/v3"),
        ("ARK_BASE_URL", "ark.cn-beijing.volces.com/api/v3"),
        ("ARK_BASE_URL", "ftp://files.example/api"),
    ],
)
def test_bad_values_give_a_clear_error(name, value):
    with pytest.raises(ConfigError, match=name) as info:
        load_settings(env={name: value})
    assert name in describe("zh", info.value)


def test_a_bad_base_url_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"ARK_BASE_URL": "https://me:secret-pass@ark.example:44x/api/v3"})
    shown = describe("en", refused.value) + str(refused.value)
    assert "ARK_BASE_URL" in shown and "secret-pass" not in shown


def test_values_are_parsed():
    settings = load_settings(
        env={
            "ARK_TEMPERATURE": "0.7",
            "ARK_MAX_TOKENS": "512",
            "CHAT_DB": "~/x.db",
            "ARK_CACHE": "RESPONSES",
            "CHAT_BUSY_TIMEOUT": "2.5",
        }
    )
    assert settings.temperature == 0.7 and settings.max_tokens == 512
    assert settings.cache == "responses" and settings.busy_timeout == 2.5
    assert settings.db == "~/x.db"  # the store expands it when it opens the file


def test_a_database_password_never_shows():
    url = "postgresql://chat:s3cret-pw@db.example.com:5432/chat?sslmode=require"
    settings = load_settings(env={"CHAT_DB": url})
    assert settings.db == url
    assert "s3cret-pw" not in repr(settings)
    assert settings.db_label == "postgresql://chat:***@db.example.com:5432/chat?sslmode=require"
    keyword = load_settings(
        env={"CHAT_DB": "postgresql:///chat?password=s3cret-pw&sslmode=require"}
    )
    assert "s3cret-pw" not in keyword.db_label
    # "?" and "#" are read as part of a password; an unencoded "@" or "/" is refused
    label = load_settings(env={"CHAT_DB": "postgresql://chat:Se?cr#et@db/chat"}).db_label
    assert label == "postgresql://chat:***@db/chat"
    for unencoded in ("Xy7/Secret+Pw=", "Ab@Secret9"):
        with pytest.raises(ConfigError) as refused:
            load_settings(env={"CHAT_DB": f"postgresql://chat:{unencoded}@db/chat"})
        assert refused.value.code == "setting_database_unreadable"
        assert "Secret" not in describe("en", refused.value)


@pytest.mark.parametrize(
    "value",
    [
        "mysql://chat:s3cret-pw@db.example.com/chat",
        "sqlite:///chat.db",
        "host=db.example.com dbname=chat password=s3cret-pw",
    ],
)
def test_a_database_address_the_app_cannot_read_is_refused_without_its_password(value):
    with pytest.raises(ConfigError) as raised:
        load_settings(env={"CHAT_DB": value})
    assert raised.value.code == "setting_not_database"
    assert "s3cret-pw" not in describe("en", raised.value)
    assert "CHAT_DB" in describe("en", raised.value)


def test_a_sqlalchemy_style_postgresql_url_is_read_as_one():
    settings = load_settings(env={"CHAT_DB": "postgresql+psycopg://chat:pw@db/chat"})
    assert settings.db == "postgresql://chat:pw@db/chat"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("postgresql:/chat:s3cret-pw@db.example.com/chat", "postgresql:/…"),
        ("postgres:chat:s3cret-pw@db.example.com/chat", "postgres:…"),
        ('"postgresql:/chat:s3cret-pw@db/chat"', "postgresql:/…"),
        ("export postgresql://chat:s3cret-pw@db/chat", "…://…"),
    ],
)
def test_a_postgresql_url_with_a_slash_missing_is_refused_not_made_a_file(value, shown):
    with pytest.raises(ConfigError) as raised:
        load_settings(env={"CHAT_DB": value})
    assert raised.value.code == "setting_not_database"
    assert raised.value.params["value"] == shown
    assert "s3cret-pw" not in describe("en", raised.value)


@pytest.mark.parametrize(
    "value",
    [
        '"postgresql://chat:s3cret-pw@db/chat"',  # an env file's quotes, kept
        "'postgresql://chat:s3cret-pw@db/chat'",
        "POSTGRESQL://chat:s3cret-pw@db/chat",  # libpq reads only lower case
        "Postgresql+Psycopg://chat:s3cret-pw@db/chat",
    ],
)
def test_a_quoted_or_upper_case_postgresql_url_is_read_as_written_plainly(value):
    settings = load_settings(env={"CHAT_DB": value})
    assert settings.db == "postgresql://chat:s3cret-pw@db/chat"
    assert settings.db_label == "postgresql://chat:***@db/chat"


def test_a_quoted_sqlite_path_loses_its_quotes():
    assert load_settings(env={"CHAT_DB": "'/data/my chats.db'"}).db == "/data/my chats.db"


def test_quoted_values_lose_their_quotes():
    settings = load_settings(
        env={
            "ARK_API_KEY": '"test-key"',
            "ARK_MODEL": "'ep-test'",
            "CHAT_USAGE_ADMINS": '"boss@example.com", "sub-7"',
        }
    )
    assert (settings.api_key, settings.model) == ("test-key", "ep-test")
    assert settings.usage_admins == ("boss@example.com", "sub-7")


@pytest.mark.parametrize("value", [["ep-a", "ep-b"], {"model": "ep-a"}])
def test_a_list_or_table_in_the_secrets_is_no_text(value):
    with pytest.raises(ConfigError) as refused:
        load_settings(env={}, secrets={"ARK_MODEL": value})
    assert describe("en", refused.value) == (
        "ARK_MODEL must be text (a list or table in the secrets file is not one)."
    )
