//! Where a webhook may be sent. The URL is checked when it is registered
//! (scheme, shape, literal addresses) and every address it resolves to is
//! checked again at each delivery (after DNS, so a name that later points
//! inside the network is refused too).
use std::net::IpAddr;

use crate::config::WebhookSettings;
use crate::error::{AppError, AppResult};

/// An endpoint URL that passed the registration checks.
#[derive(Clone, Debug)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(raw: &str, policy: &WebhookSettings) -> AppResult<Self> {
        let bad = |m: &str| AppError::bad_input("url", m.to_string());
        let raw = raw.trim();
        if raw.len() > 2048 {
            return Err(bad("url must be at most 2048 characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("url is not an absolute URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_http => {}
            "http" => return Err(bad("url must use https")),
            _ => return Err(bad("url must be an https URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("url must not carry credentials"));
        }
        let host = url.host().ok_or_else(|| bad("url has no host"))?;
        let literal = match host {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(d) => {
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") {
                    Some(IpAddr::from([127, 0, 0, 1]))
                } else {
                    None
                }
            }
        };
        if let Some(ip) = literal {
            allowed(ip, policy).map_err(|m| bad(&m))?;
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Whether a delivery may connect to `ip`; the reason when not.
pub fn allowed(ip: IpAddr, policy: &WebhookSettings) -> Result<(), String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (internal, never) = match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            let cgnat = o[0] == 100 && (o[1] & 0b1100_0000) == 64;
            (
                a.is_loopback() || a.is_private() || cgnat,
                a.is_link_local()
                    || a.is_unspecified()
                    || a.is_broadcast()
                    || a.is_multicast()
                    || o[0] == 0,
            )
        }
        IpAddr::V6(a) => {
            let seg = a.segments();
            let unique_local = (seg[0] & 0xfe00) == 0xfc00;
            let link_local = (seg[0] & 0xffc0) == 0xfe80;
            (
                a.is_loopback() || unique_local,
                link_local || a.is_unspecified() || a.is_multicast(),
            )
        }
    };
    if never {
        return Err(format!(
            "{ip} is a link-local, metadata or reserved address: webhooks never go there"
        ));
    }
    if internal && !policy.allow_private {
        return Err(format!(
            "{ip} is a loopback or private address: webhooks go to public addresses only"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_targets_pass_by_default() {
        let strict = WebhookSettings::default();
        let dev = WebhookSettings {
            allow_http: true,
            allow_private: true,
            ..Default::default()
        };
        for ok in ["https://hooks.example.com/x", "https://93.184.216.34/in"] {
            assert!(WebhookUrl::parse(ok, &strict).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/x",
            "ftp://example.com",
            "https://user:pw@example.com",
            "https://127.0.0.1/x",
            "https://localhost/x",
            "https://10.1.2.3/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:10.0.0.1]/x",
            "not a url",
        ] {
            assert!(WebhookUrl::parse(bad, &strict).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:9/x", &dev).is_ok());
        // metadata stays refused even for development
        assert!(WebhookUrl::parse("http://169.254.169.254/", &dev).is_err());
        assert!(WebhookUrl::parse("http://[fe80::1]/", &dev).is_err());
    }
}
