//! Infraction reports: states, who may act, and the counts lookups return.

use directory::fraud::{
    InfractionType, NewReport, ReportError, ReportResult, ReportTarget, ReportedBy,
};
use directory::{AccountRef, DirectoryError, Masked, NoticeKind, ReportStatus};

use super::*;

fn fraud_report(reporter: &str, target: ReportTarget) -> NewReport {
    NewReport {
        reporter: reporter.into(),
        target,
        infraction_type: InfractionType::Fraud,
        reported_by: ReportedBy::DebitedParticipant,
        transaction_id: "E9999901012341234123412345678900".into(),
        details: Masked("payer says it was a scam".into()),
    }
}

#[test]
fn reports_go_open_acknowledged_closed_and_count() {
    let mail = "ana@example.com";
    let mut d = directory_with(&[ana(mail, "BANKA", "100"), ana("+5511911112222", "BANKA", "100")]);
    let (id, filed) =
        d.file_report(fraud_report("BANKB", ReportTarget::Key(key(mail))), 5).unwrap();
    assert_eq!(filed.notices[0].participant, "BANKA");
    assert_eq!(filed.notices[0].kind, NoticeKind::ReportFiled(id));
    let e = d.resolve(&key(mail)).unwrap().clone();
    let marks = d.fraud_marks(&e);
    assert_eq!((marks.key.reported, marks.owner.reported, marks.account.reported), (1, 1, 1));
    assert_eq!(marks.key.confirmed, 0);
    // Another key of the same owner and account shares the owner and account counts.
    let phone = d.resolve(&key("+5511911112222")).unwrap().clone();
    let m2 = d.fraud_marks(&phone);
    assert_eq!((m2.key.reported, m2.owner.reported, m2.account.reported), (0, 1, 1));

    let wrong = d.acknowledge_report(id, "BANKB", 6);
    assert_eq!(wrong, Err(DirectoryError::Report(ReportError::NotAllowed)));
    let ack = d.acknowledge_report(id, "BANKA", 6).unwrap();
    assert_eq!(ack.notices[0].participant, "BANKB");
    assert_eq!(d.report(id).unwrap().status, ReportStatus::Acknowledged);
    d.close_report(id, "BANKA", ReportResult::Agreed, Masked("confirmed".into()), 7).unwrap();
    assert_eq!(d.fraud_marks(&e).key.confirmed, 1);
    assert_eq!(
        d.close_report(id, "BANKA", ReportResult::Agreed, Masked::default(), 8),
        Err(DirectoryError::Report(ReportError::WrongStatus(ReportStatus::Closed)))
    );
    // The reporter may cancel even after closing: the report stops counting.
    assert_eq!(
        d.cancel_report(id, "BANKA", 9),
        Err(DirectoryError::Report(ReportError::NotAllowed))
    );
    d.cancel_report(id, "BANKB", 9).unwrap();
    assert_eq!(d.fraud_marks(&e), directory::FraudMarks::default());
}

#[test]
fn reports_against_an_account_and_bad_reports() {
    let mut d = directory_with(&[ana("ana@example.com", "BANKA", "100")]);
    let account = AccountRef {
        participant: "BANKA".into(),
        branch: "1".into(),
        account: Masked("100".into()),
        account_type: "CACC".into(),
    };
    d.file_report(fraud_report("BANKB", ReportTarget::Account(account, Masked::default())), 1)
        .unwrap();
    let e = d.resolve(&key("ana@example.com")).unwrap().clone();
    let m = d.fraud_marks(&e);
    assert_eq!((m.key.reported, m.owner.reported, m.account.reported), (0, 0, 1));

    let mut bad = fraud_report("BANKB", ReportTarget::Key(key("ana@example.com")));
    bad.transaction_id = "short".into();
    assert_eq!(
        d.file_report(bad, 1).unwrap_err(),
        DirectoryError::Report(ReportError::TransactionId)
    );
    let mut long = fraud_report("BANKB", ReportTarget::Key(key("ana@example.com")));
    long.details = Masked("x".repeat(2_001));
    assert_eq!(
        d.file_report(long, 1).unwrap_err(),
        DirectoryError::Report(ReportError::Text(2_000))
    );
    let own = fraud_report("BANKA", ReportTarget::Key(key("ana@example.com")));
    assert_eq!(d.file_report(own, 1).unwrap_err(), DirectoryError::Report(ReportError::OwnTarget));
    let missing = fraud_report("BANKB", ReportTarget::Key(key("x@example.com")));
    assert_eq!(
        d.file_report(missing, 1).unwrap_err(),
        DirectoryError::Report(ReportError::KeyNotRegistered)
    );
    let nobody = AccountRef { account: Masked("1".into()), ..AccountRef::default() };
    assert!(matches!(
        d.file_report(fraud_report("BANKB", ReportTarget::Account(nobody, Masked::default())), 1),
        Err(DirectoryError::Invalid { field: "account", .. })
    ));
    // A refund request does not count as a fraud mark.
    let mut refund = fraud_report("BANKB", ReportTarget::Key(key("ana@example.com")));
    refund.infraction_type = InfractionType::RefundRequest;
    d.file_report(refund, 2).unwrap();
    assert_eq!(d.fraud_marks(&e).key.reported, 0);
}

#[test]
fn open_reports_are_bounded() {
    let mut d = Directory::new(directory::DirectoryConfig {
        reports_max: 2,
        ..directory::DirectoryConfig::default()
    });
    d.register_entry(ana("ana@example.com", "BANKA", "100"), 1).unwrap();
    let r = || fraud_report("BANKB", ReportTarget::Key(key("ana@example.com")));
    let (a, _) = d.file_report(r(), 1).unwrap();
    d.file_report(r(), 1).unwrap();
    assert_eq!(d.file_report(r(), 1).unwrap_err(), DirectoryError::Report(ReportError::TooMany(2)));
    d.close_report(a, "BANKA", ReportResult::Disagreed, Masked::default(), 2).unwrap();
    let (c, _) = d.file_report(r(), 3).unwrap();
    assert!(d.report(a).is_none(), "the oldest finished report made room");
    assert!(d.report(c).is_some());
}
