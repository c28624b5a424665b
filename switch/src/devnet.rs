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

/// Payment number `i` of a benchmark: bank 0 pays customer `i % customers` of bank 1 by
/// that customer's phone alias, with a UETR, created at `created`.
pub fn bench_payment(i: u64, customers: u32, created: &str) -> iso20022::pacs008::Pacs008 {
    use iso20022::{Account, AccountId, Agent, Amount, Party, Proxy};
    let c = (i % u64::from(customers.max(1))) as u32;
    let alias = format!("+55119{}{c:07}", 1);
    iso20022::pacs008::Pacs008 {
        header: iso20022::pacs008::GroupHeader {
            msg_id: format!("M{i}"),
            created: created.to_string(),
            settlement_method: "CLRG".into(),
            ..Default::default()
        },
        transactions: vec![iso20022::pacs008::CreditTransfer {
            end_to_end_id: format!("E{i}"),
            uetr: Some(format!("8a562c67-ca16-48ba-b074-{:012}", i % 1_000_000_000_000)),
            amount: Amount {
                minor: 1_000 + i % 1_000,
                currency: iso20022::Currency::parse("BRL").unwrap_or_default(),
            },
            charge_bearer: "SLEV".into(),
            debtor: Party { name: Some("Payer".into()), ..Party::default() },
            debtor_agent: Agent::bic("BKAABRSP"),
            creditor_agent: Agent { other_id: Some("NOTPROVIDED".into()), ..Agent::default() },
            creditor: Party { name: Some("Payee".into()), ..Party::default() },
            creditor_account: Some(Account {
                id: AccountId::Other("NOTPROVIDED".into()),
                proxy: Some(Proxy { id: alias, ..Proxy::default() }),
                ..Account::default()
            }),
            ..Default::default()
        }],
    }
}

/// The creditor's acceptance of transfer `id`, named by the forwarded pacs.008's MsgId.
pub fn bench_accept(id: u64, created: &str) -> iso20022::pacs002::Pacs002 {
    iso20022::pacs002::Pacs002 {
        msg_id: format!("R{id}"),
        created: created.to_string(),
        original_msg_id: Some(format!("{}{id}", crate::core::FORWARD_PREFIX)),
        original_msg_name: Some("pacs.008.001.08".into()),
        transactions: vec![iso20022::pacs002::TxStatusReport {
            status: iso20022::codes::TxStatus::AcceptedSettlementInProcess,
            ..Default::default()
        }],
        ..Default::default()
    }
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
