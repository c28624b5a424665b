//! The development network: deterministic customers and aliases for the configured banks,
//! so `switchd demo`, `switchd serve` on its default and the tests all see the same world.
//!
//! Customer `c` of bank `b` has account `0001/{c+1:06}` and three keys: a phone, an e-mail
//! and a national id (CPF with valid check digits).

use crate::config::Config;
use crate::runtime::AdminStep;

/// One development customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Bank index.
    pub bank: u32,
    /// Account number.
    pub account: String,
    /// Owner name.
    pub owner: String,
    /// Keys: phone, e-mail, national id.
    pub keys: [String; 3],
}

/// A CPF with valid check digits built from a 9-digit base.
pub fn cpf(base: u32) -> String {
    let digits: Vec<u32> =
        format!("{:09}", base % 1_000_000_000).chars().filter_map(|c| c.to_digit(10)).collect();
    let dv = |ds: &[u32], top: u32| {
        let s: u32 = ds.iter().zip((2..=top).rev()).map(|(d, w)| d * w).sum();
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    let d1 = dv(&digits, 10);
    let mut with = digits.clone();
    with.push(d1);
    let d2 = dv(&with, 11);
    with.push(d2);
    with.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()
}

/// The customers of bank `bank` (index in the config) up to `count`.
pub fn customers(bank: u32, count: u32) -> impl Iterator<Item = Customer> {
    (0..count).map(move |c| Customer {
        bank,
        account: format!("{:06}", c + 1),
        owner: format!("Customer {c} of bank {bank}"),
        keys: [
            format!("+55119{bank}{c:07}"),
            format!("customer{c}@bank{bank}.example"),
            cpf(100_000 * (bank + 1) + c + 1),
        ],
    })
}

/// Set-up steps for a config: funding once, and the development aliases if enabled.
pub fn setup_steps(cfg: &Config) -> Vec<AdminStep> {
    let mut steps = Vec::new();
    for (i, p) in cfg.participants.iter().enumerate() {
        let i = i as u32;
        if p.initial_funding_minor > 0 {
            steps.push(AdminStep::FundOnce {
                participant: i,
                amount_minor: p.initial_funding_minor,
            });
        }
        if cfg.dev_aliases {
            for c in customers(i, p.dev_customers) {
                for k in &c.keys {
                    steps.push(AdminStep::Alias {
                        key: k.clone(),
                        participant: i,
                        branch: "0001".into(),
                        account: c.account.clone(),
                        owner: c.owner.clone(),
                    });
                }
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_keys() {
        for c in customers(2, 50) {
            for k in &c.keys {
                directory::Key::parse(k).unwrap();
            }
        }
        assert!(directory::cpf_ok(&cpf(123_456_789)));
    }
}
