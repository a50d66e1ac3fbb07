use super::*;
use crate::keys;

fn changed(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

#[test]
fn a_setting_out_of_its_range_is_refused_naming_the_field() {
    let s = ServerSettings {
        code_ttl: 0,
        ..Default::default()
    };
    let e = validate_settings(&s, &changed(&["code_ttl"]), 300, 0).unwrap_err();
    assert_eq!(e.code(), ManageError::INVALID_INPUT);
    assert!(
        e.to_string()
            .starts_with("code_ttl must be between 10 and 600"),
        "{e}"
    );
    let s = ServerSettings {
        login_max_failures: -1,
        ..Default::default()
    };
    let e = validate_settings(&s, &changed(&["login_max_failures"]), 300, 0).unwrap_err();
    assert!(e.to_string().contains("login_max_failures"), "{e}");
}

#[test]
fn keys_must_outlive_the_longest_token_plus_the_jwks_max_age() {
    let ok = ServerSettings {
        retire_after: 3600 + 300,
        access_token_ttl: 600,
        id_token_ttl: 600,
        ..Default::default()
    };
    // A registered client with a one-hour access token sets the floor.
    assert!(validate_settings(&ok, &changed(&["retire_after"]), 300, 3600).is_ok());
    let short = ServerSettings {
        retire_after: 3600 + 299,
        ..ok
    };
    let e = validate_settings(&short, &changed(&["retire_after"]), 300, 3600).unwrap_err();
    assert!(e.to_string().starts_with("retire_after"), "{e}");
    // Raising the default access-token lifetime past it is caught from that side too.
    let longer = ServerSettings {
        access_token_ttl: 3600,
        retire_after: 3600,
        ..ok
    };
    assert!(validate_settings(&longer, &changed(&["access_token_ttl"]), 300, 0).is_err());
}

#[test]
fn a_successor_is_published_at_least_one_jwks_max_age_before_it_signs() {
    let s = ServerSettings {
        prepublish: 299,
        ..Default::default()
    };
    let e = validate_settings(&s, &changed(&["prepublish"]), 300, 0).unwrap_err();
    assert!(e.to_string().starts_with("prepublish"), "{e}");
    let s = ServerSettings {
        rotate_every: 3600,
        prepublish: 7200,
        ..Default::default()
    };
    let e = validate_settings(&s, &changed(&["rotate_every"]), 300, 0).unwrap_err();
    assert!(e.to_string().starts_with("rotate_every"), "{e}");
}

#[test]
fn rules_of_settings_nobody_changed_do_not_block_an_edit() {
    // A configured default that breaks a rule is the operator's business; an edit of
    // an unrelated setting still goes through.
    let s = ServerSettings {
        prepublish: 0,
        code_ttl: 120,
        ..Default::default()
    };
    assert!(validate_settings(&s, &changed(&["code_ttl"]), 300, 0).is_ok());
    assert!(validate_settings(&s, &changed(&["prepublish"]), 300, 0).is_err());
}

#[test]
fn the_refresh_idle_time_cannot_exceed_the_absolute_lifetime() {
    let s = ServerSettings {
        refresh_token_ttl: 3600,
        refresh_idle_ttl: 7200,
        ..Default::default()
    };
    let e = validate_settings(&s, &changed(&["refresh_token_ttl"]), 300, 0).unwrap_err();
    assert!(e.to_string().starts_with("refresh_idle_ttl"), "{e}");
}

#[test]
fn a_jwks_uri_must_be_https_or_loopback_http_without_credentials_or_fragment() {
    assert!(validate_jwks_uri("https://rp.example/jwks.json").is_ok());
    assert!(validate_jwks_uri("http://127.0.0.1:8443/jwks").is_ok());
    for bad in [
        "http://rp.example/jwks",
        "file:///etc/passwd",
        "https://user:pw@rp.example/jwks",
        "https://rp.example/jwks#x",
        "/jwks",
    ] {
        assert!(validate_jwks_uri(bad).is_err(), "{bad}");
    }
}

#[test]
fn inline_keys_and_a_key_url_cannot_both_be_registered() {
    let mut c = client(
        ClientType::Confidential,
        AuthMethod::PrivateKeyJwt,
        &[GrantType::ClientCredentials],
        &[],
    );
    c.jwks_uri = Some("https://rp.example/jwks".into());
    assert!(validate_client(&c).is_ok());
    c.jwks = Some(r#"{"keys":[]}"#.into());
    assert!(validate_client(&c).is_err());
}

fn client(t: ClientType, m: AuthMethod, grants: &[GrantType], uris: &[&str]) -> Client {
    Client {
        id: "c".into(),
        name: "App".into(),
        client_type: t,
        auth_method: m,
        grant_types: grants.to_vec(),
        redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
        post_logout_redirect_uris: vec![],
        allowed_scopes: vec!["openid".into()],
        jwks: None,
        jwks_uri: None,
        access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
        refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
        refresh_idle_ttl: DEFAULT_REFRESH_IDLE_TTL,
        refresh_grace_secs: 0,
        require_consent: true,
        admin_tool: false,
        disabled: false,
        assertion_aud_compat: false,
        require_pushed_authorization_requests: false,
        registered: false,
        allowed_origins: None,
        dpop_bound_access_tokens: false,
        tokens_valid_after: 0,
        created_at: 0,
        updated_at: 0,
    }
}

fn code(r: ManageResult<()>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.code(),
    }
}

const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

#[test]
fn https_and_loopback_http_redirect_uris_are_accepted() {
    for ok in [
        "https://app.example.com/cb",
        "https://app.example.com:8443/cb?x=1",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:49152/callback",
        "http://[::1]:8080/cb",
        "com.example.app:/oauth2redirect",
    ] {
        assert_eq!(code(validate_redirect_uri(ok)), "ok", "{ok}");
    }
}

#[test]
fn http_localhost_is_refused_per_rfc_8252_section_8_3() {
    let e = validate_redirect_uri("http://localhost:8080/cb").unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
}

#[test]
fn plain_http_on_a_public_host_is_refused() {
    assert_eq!(
        code(validate_redirect_uri("http://app.example.com/cb")),
        "invalid_input"
    );
    assert_eq!(
        code(validate_redirect_uri("http://10.0.0.1/cb")),
        "invalid_input"
    );
}

#[test]
fn fragments_relative_uris_and_dangerous_schemes_are_refused() {
    for bad in [
        "https://app.example.com/cb#frag",
        "https://app.example.com/cb#",
        "/cb",
        "cb",
        "//app.example.com/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "myapp:/cb",
        "https://*.example.com/cb",
        "https://user:pw@app.example.com/cb",
        " https://app.example.com/cb",
        "",
    ] {
        assert_eq!(code(validate_redirect_uri(bad)), "invalid_input", "{bad:?}");
    }
}

#[test]
fn redirect_uris_carrying_oauth_response_parameters_are_refused() {
    for bad in [
        "https://app.example.com/cb?code=x",
        "https://app.example.com/cb?a=1&state=x",
        "https://app.example.com/cb?iss=x",
        "https://app.example.com/cb?error=x",
    ] {
        assert_eq!(code(validate_redirect_uri(bad)), "invalid_input", "{bad}");
    }
    assert_eq!(
        code(validate_redirect_uri("https://app.example.com/cb?codec=x")),
        "ok"
    );
}

#[test]
fn a_jwks_with_a_private_key_is_refused() {
    let with_d = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#;
    let e = validate_jwks(with_d).unwrap_err();
    assert!(e.to_string().contains("private"));
    assert!(!e.to_string().contains("secret\""));
    assert_eq!(
        code(validate_jwks(&format!(r#"{{"keys":[{EC_JWK}]}}"#))),
        "ok"
    );
}

#[test]
fn a_jwks_must_be_an_object_with_usable_public_keys() {
    for bad in [
        "not json",
        "[]",
        r#"{"keys":[]}"#,
        r#"{"keys":["x"]}"#,
        r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#,
        r#"{"keys":[{"kty":"EC","crv":"P-384","x":"a","y":"b"}]}"#,
    ] {
        assert_eq!(code(validate_jwks(bad)), "invalid_input", "{bad}");
    }
}

#[test]
fn a_public_client_must_use_auth_method_none() {
    let c = client(
        ClientType::Public,
        AuthMethod::ClientSecretBasic,
        &[GrantType::AuthorizationCode],
        &["http://127.0.0.1/cb"],
    );
    assert_eq!(code(validate_client(&c)), "invalid_input");
}

#[test]
fn a_public_client_may_not_use_client_credentials() {
    let c = client(
        ClientType::Public,
        AuthMethod::None,
        &[GrantType::ClientCredentials],
        &[],
    );
    assert_eq!(code(validate_client(&c)), "invalid_input");
}

#[test]
fn a_confidential_client_may_not_use_auth_method_none() {
    let c = client(
        ClientType::Confidential,
        AuthMethod::None,
        &[GrantType::ClientCredentials],
        &[],
    );
    assert_eq!(code(validate_client(&c)), "invalid_input");
}

#[test]
fn the_authorization_code_grant_requires_a_redirect_uri() {
    let c = client(
        ClientType::Confidential,
        AuthMethod::ClientSecretBasic,
        &[GrantType::AuthorizationCode],
        &[],
    );
    assert!(validate_client(&c)
        .unwrap_err()
        .to_string()
        .contains("redirect URI"));
}

#[test]
fn refresh_tokens_come_only_with_a_user_facing_grant() {
    let cc = client(
        ClientType::Confidential,
        AuthMethod::ClientSecretBasic,
        &[GrantType::ClientCredentials, GrantType::RefreshToken],
        &[],
    );
    assert_eq!(code(validate_client(&cc)), "invalid_input");
    let device = client(
        ClientType::Public,
        AuthMethod::None,
        &[GrantType::DeviceCode, GrantType::RefreshToken],
        &[],
    );
    assert_eq!(code(validate_client(&device)), "ok");
}

#[test]
fn private_key_jwt_requires_a_jwks_and_other_methods_refuse_one() {
    let mut c = client(
        ClientType::Confidential,
        AuthMethod::PrivateKeyJwt,
        &[GrantType::ClientCredentials],
        &[],
    );
    assert_eq!(code(validate_client(&c)), "invalid_input");
    c.jwks = Some(format!(r#"{{"keys":[{EC_JWK}]}}"#));
    assert_eq!(code(validate_client(&c)), "ok");
    c.auth_method = AuthMethod::ClientSecretBasic;
    assert_eq!(code(validate_client(&c)), "invalid_input");
}

#[test]
fn token_lifetimes_are_bounded() {
    let base = client(
        ClientType::Confidential,
        AuthMethod::ClientSecretBasic,
        &[GrantType::ClientCredentials],
        &[],
    );
    let mut c = base.clone();
    c.access_token_ttl = 3601;
    assert_eq!(code(validate_client(&c)), "invalid_input");
    let mut c = base.clone();
    c.refresh_grace_secs = 31;
    assert_eq!(code(validate_client(&c)), "invalid_input");
    let mut c = base.clone();
    c.refresh_idle_ttl = c.refresh_token_ttl + 1;
    assert_eq!(code(validate_client(&c)), "invalid_input");
    assert_eq!(code(validate_client(&base)), "ok");
}

#[test]
fn client_names_must_be_present_and_short() {
    assert_eq!(code(validate_client_name("  ")), "invalid_input");
    assert_eq!(
        code(validate_client_name(&"x".repeat(201))),
        "invalid_input"
    );
    assert_eq!(code(validate_client_name(&"é".repeat(200))), "ok");
}

#[test]
fn scope_names_follow_the_rfc_6749_grammar_and_descriptions_are_bounded() {
    let s = |n: &str, d: &str| NewScope {
        name: n.into(),
        description: d.into(),
        claims: vec![],
    };
    assert_eq!(code(validate_scope(&s("api:read", "Read"))), "ok");
    assert_eq!(code(validate_scope(&s("api read", ""))), "invalid_input");
    assert_eq!(code(validate_scope(&s("", ""))), "invalid_input");
    assert_eq!(
        code(validate_scope(&s("a", &"d".repeat(501)))),
        "invalid_input"
    );
}

#[test]
fn usernames_allow_only_a_small_character_set() {
    assert_eq!(code(validate_username("alice.smith@example-1_x")), "ok");
    assert_eq!(code(validate_username("")), "invalid_input");
    assert_eq!(code(validate_username("al ice")), "invalid_input");
    assert_eq!(code(validate_username("ålice")), "invalid_input");
    assert_eq!(code(validate_username(&"a".repeat(65))), "invalid_input");
}

#[test]
fn passwords_need_eight_characters_and_errors_never_echo_them() {
    let e = validate_password("short1").unwrap_err();
    assert!(!e.to_string().contains("short1"));
    assert_eq!(code(validate_password("long enough")), "ok");
}

#[test]
fn email_addresses_need_one_at_sign_with_both_sides() {
    assert_eq!(code(validate_email("a@example.com")), "ok");
    for bad in ["a", "@b", "a@", "a b@c", "a@b@c"] {
        assert_eq!(code(validate_email(bad)), "invalid_input", "{bad}");
    }
}

#[test]
fn a_key_summary_never_contains_the_private_half() {
    let kek = Kek::generate();
    let k = keys::new_signing_key(Alg::ES256, KeyState::Active, &kek, 1).unwrap();
    let v = key_summary(&k);
    assert!(v.get("private_enc").is_none());
    assert_eq!(v["kid"], k.kid.as_str());
}

#[test]
fn the_plain_secret_debug_form_hides_the_value() {
    let s = PlainSecret("hunter2-hunter2".into());
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn store_errors_map_onto_stable_codes() {
    assert_eq!(ManageError::from(StoreError::NotFound).code(), "not_found");
    assert_eq!(
        ManageError::from(StoreError::Conflict("x".into())).code(),
        "conflict"
    );
    assert_eq!(
        ManageError::from(StoreError::Unavailable("x".into())).code(),
        "unavailable"
    );
    assert_eq!(
        ManageError::from(StoreError::Other("x".into())).code(),
        "internal"
    );
}

#[test]
fn only_the_console_client_is_built_in_and_its_refusal_is_the_builtin_code() {
    let mut c = Client {
        id: CONSOLE_CLIENT_ID.into(),
        ..client(
            ClientType::Public,
            AuthMethod::None,
            &[GrantType::AuthorizationCode],
            &["http://127.0.0.1/callback"],
        )
    };
    assert!(is_builtin_client(&c));
    c.id = "latchkey-console-copy".into();
    assert!(!is_builtin_client(&c));
    let e = ManageError::Builtin("x".into());
    assert_eq!(e.code(), ManageError::BUILTIN);
    assert_eq!(e.error_code().http_status(), 409);
}

/// Issue 16: retention can never be switched off or shortened below its floor (a day for
/// sessions and sign-ins, a week for the audit log): zero or a negative value is refused
/// with the setting's name, and so is a value past ten years.
#[test]
fn a_retention_of_zero_or_below_its_floor_is_refused_naming_the_setting() {
    for (name, floor) in [
        ("retain_sessions", 86_400),
        ("retain_signins", 86_400),
        ("retain_audit", 7 * 86_400),
    ] {
        let field = crate::settings::FIELDS
            .iter()
            .find(|f| f.name == name)
            .expect("a retention setting");
        for bad in [0, -1, floor - 1, 3650 * 86_400 + 1] {
            let mut s = ServerSettings::default();
            field.set(&mut s, bad);
            let e =
                validate_settings(&s, &changed(&[field.name]), 300, 0).expect_err("out of bounds");
            assert_eq!(e.code(), ManageError::INVALID_INPUT, "{name} = {bad}");
            assert!(e.to_string().starts_with(name), "{e}");
        }
        let mut s = ServerSettings::default();
        field.set(&mut s, floor);
        assert!(
            validate_settings(&s, &changed(&[field.name]), 300, 0).is_ok(),
            "{name} at its floor"
        );
    }
}
