//! ISO 20022 external codes the switch uses, with their official names.
//!
//! The XSDs type these as free 1-4 character strings, so the tables here are the check.
//! Codes differ in meaning between code sets (BE08 is "MissingDebtorName" as a status reason
//! and "BankError" as a return reason), so each set is its own enum.

use std::fmt;

macro_rules! official_name {
    ($variant:ident) => {
        stringify!($variant)
    };
    ($variant:ident $official:literal) => {
        $official
    };
}

macro_rules! code_set {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$vdoc:meta])* $variant:ident = $code:literal $(as $official:literal)?),+ $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every code in this set.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The four-letter ISO code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parse an ISO code of this set.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The official name of the code.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => official_name!($variant $($official)?)),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_set! {
    /// ExternalPaymentTransactionStatus1Code (pacs.002 `TxSts`).
    TxStatus {
        /// Technical validation successful.
        AcceptedTechnicalValidation = "ACTC",
        /// Customer profile check successful.
        AcceptedCustomerProfile = "ACCP",
        /// All checks passed, accepted for execution (creditor bank's accept).
        AcceptedSettlementInProcess = "ACSP",
        /// Settlement completed (switch to debtor bank).
        AcceptedSettlementCompleted = "ACSC",
        /// Settlement on the creditor's account completed (switch to creditor bank).
        AcceptedCreditSettlementCompleted = "ACCC",
        /// Accepted without posting to the creditor's account.
        AcceptedWithoutPosting = "ACWP",
        /// Blocked.
        Blocked = "BLCK",
        /// Pending; further status will follow.
        Pending = "PDNG",
        /// Rejected.
        Rejected = "RJCT",
        /// Received.
        Received = "RCVD",
    }
}

impl TxStatus {
    /// Whether this status accepts the transaction (anything but RJCT, BLCK, PDNG, RCVD).
    pub fn is_accept(self) -> bool {
        !matches!(
            self,
            TxStatus::Rejected | TxStatus::Blocked | TxStatus::Pending | TxStatus::Received
        )
    }
}

code_set! {
    /// ExternalStatusReason1Code (pacs.002 / pain.002 `StsRsnInf/Rsn/Cd`).
    StatusReason {
        /// Clearing process aborted due to timeout.
        AbortedClearingTimeout = "AB01",
        /// Clearing process aborted due to a fatal error.
        AbortedClearingFatalError = "AB02",
        /// Settlement aborted due to timeout.
        AbortedSettlementTimeout = "AB03",
        /// Settlement aborted due to a fatal error.
        AbortedSettlementFatalError = "AB04",
        /// Transaction stopped due to timeout at the creditor agent.
        TimeoutCreditorAgent = "AB05",
        /// Transaction stopped due to timeout at the instructed agent.
        TimeoutInstructedAgent = "AB06",
        /// Agent of the message is not online.
        OfflineAgent = "AB07",
        /// Creditor agent is not online.
        OfflineCreditorAgent = "AB08",
        /// Transaction stopped due to an error at the creditor agent.
        ErrorCreditorAgent = "AB09",
        /// Transaction stopped due to an error at the instructed agent.
        ErrorInstructedAgent = "AB10",
        /// Transaction stopped due to timeout at the debtor agent.
        TimeoutDebtorAgent = "AB11",
        /// Account number is invalid or missing.
        IncorrectAccountNumber = "AC01",
        /// Debtor account number invalid or missing.
        InvalidDebtorAccountNumber = "AC02",
        /// Creditor account number invalid or missing.
        InvalidCreditorAccountNumber = "AC03",
        /// Account number closed.
        ClosedAccountNumber = "AC04",
        /// Debtor account number closed.
        ClosedDebtorAccountNumber = "AC05",
        /// Account blocked.
        BlockedAccount = "AC06",
        /// Creditor account number closed.
        ClosedCreditorAccountNumber = "AC07",
        /// Creditor account type missing or invalid.
        InvalidCreditorAccountType = "AC14",
        /// Transaction forbidden on this type of account.
        TransactionForbidden = "AG01",
        /// Transaction type not supported on this account.
        TransactionNotSupported = "AG03",
        /// Agent suspended from the real-time payment system.
        AgentSuspended = "AG10",
        /// Creditor agent suspended from the real-time payment system.
        CreditorAgentSuspended = "AG11",
        /// Book transfers between accounts at the same institution not allowed.
        NotAllowedBookTransfer = "AG12",
        /// Returns of previously returned transactions not allowed.
        ForbiddenReturnPayment = "AG13",
        /// Agent in the payment workflow is incorrect.
        IncorrectAgent = "AGNT",
        /// Amount equal to zero.
        ZeroAmount = "AM01",
        /// Amount greater than the allowed maximum.
        NotAllowedAmount = "AM02",
        /// Insufficient funds.
        InsufficientFunds = "AM04",
        /// Duplication.
        Duplication = "AM05",
        /// Amount not the one agreed or expected.
        WrongAmount = "AM09",
        /// Amount invalid or missing.
        InvalidAmount = "AM12",
        /// Amount exceeds the clearing system limit.
        AmountExceedsClearingSystemLimit = "AM13",
        /// Amount exceeds the agreed limit.
        AmountExceedsAgreedLimit = "AM14",
        /// Limit exceeded.
        LimitExceeded = "AM21",
        /// Amount exceeds the settlement limit.
        AmountExceedsSettlementLimit = "AM23",
        /// End customer identification inconsistent with the account number.
        InconsistenWithEndCustomer = "BE01",
        /// Creditor address missing or incorrect.
        MissingCreditorAddress = "BE04",
        /// Phone, e-mail or other proxy unknown or invalid.
        AccountProxyInvalid = "BE23",
        /// Mandatory element missing.
        RequiredCompulsoryElementMissing = "CH21",
        /// Order rejected by the bank side.
        OrderRejected = "DS04",
        /// Signer not allowed to sign this payment (Pix: signer not authorised on the debited
        /// account). ISO name NotAllowedPayment.
        SignerNotAuthorised = "DS0G" as "NotAllowedPayment",
        /// Invalid date (the switch: a pacs.008 created before the oldest moment whose
        /// duplicates it can still detect).
        InvalidDate = "DT01",
        /// Future date not supported.
        FutureDateNotSupported = "DT04",
        /// Message identification not unique.
        DuplicateMessageId = "DU01",
        /// End-to-end identification not unique.
        DuplicateEndToEndId = "DU04",
        /// Instruction identification not unique.
        DuplicateInstructionId = "DU05",
        /// Settlement failed.
        SettlementFailed = "ED05",
        /// Settlement system not available.
        SettlementSystemNotAvailable = "ED06",
        /// File format incomplete or invalid.
        InvalidFileFormat = "FF01",
        /// Syntax error.
        SyntaxError = "FF02",
        /// End-to-end id missing or invalid.
        InvalidEndToEndId = "FF08",
        /// Return following a cancellation request.
        FollowingCancellationRequest = "FOCR",
        /// Originated fraudulently.
        FraudulentOrigin = "FRAD",
        /// End customer deceased.
        EndCustomerDeceased = "MD07",
        /// Reason not specified, customer generated.
        NotSpecifiedReasonCustomerGenerated = "MS02",
        /// Reason not specified, agent generated.
        NotSpecifiedReasonAgentGenerated = "MS03",
        /// Reason given as narrative.
        Narrative = "NARR",
        /// Bank identifier incorrect.
        BankIdentifierIncorrect = "RC01",
        /// Clearing system member id invalid or missing.
        InvalidClearingSystemMemberIdentifier = "RC08",
        /// Debtor clearing system member id invalid.
        InvalidDebtorClearingSystemMemberIdentifier = "RC09",
        /// Creditor clearing system member id invalid.
        InvalidCreditorClearingSystemMemberIdentifier = "RC10",
        /// Regulatory reason.
        RegulatoryReason = "RR04",
        /// Received after the processing cut-off time.
        InvalidCutOffTime = "TM01",
        /// Payment information id not unique.
        DuplicatePaymentInformationId = "DU02" as "DuplicatePaymentInformationID",
        /// Transaction not unique.
        DuplicateTransaction = "DU03",
        /// Payment is a duplicate of another payment (Pix: same reconciliation id for a payee).
        DuplicatePayment = "DUPL",
        /// Initiating party not recognised (Pix: initiator CNPJ not registered).
        UnrecognisedInitiatingParty = "BE05",
        /// Debtor name missing (as a return reason the same letters mean BankError).
        MissingDebtorName = "BE08",
        /// Creditor identification code invalid (Pix: QR code rejected).
        InvalidCreditorIdentificationCode = "BE17",
        /// Creditor identifier incorrect (Pix: payee CPF/CNPJ incorrect).
        CreditorIdentifierIncorrect = "CH11",
        /// Content of an element is incorrect: what the codec answers for a code outside its
        /// ISO code set.
        ElementContentFormallyIncorrect = "CH16",
        /// User not yet activated (Pix: participant not registered or not started).
        UserNotYetActivated = "DS27",
        /// Invalid creation date.
        InvalidCreationDate = "DT02",
        /// Invalid cut-off date (Pix: return after the arrangement's maximum period).
        InvalidCutOffDate = "DT05",
        /// Purpose invalid or inconsistent.
        InvalidPurpose = "FF07",
        /// Number of transactions invalid (Pix: 1 to 10 per message).
        InvalidNumberOfTransactions = "AM18",
        /// Authorisation cancelled (Pix Automatico: recurring schedule cancelled).
        AuthorisationCancelled = "CN01",
        /// Undue payment (Pix Automatico: no valid recurrence).
        UnduePayment = "UPAY",
    }
}

impl Default for TxStatus {
    /// `PDNG`: a status not yet decided.
    fn default() -> Self {
        TxStatus::Pending
    }
}

code_set! {
    /// ExternalReturnReason1Code (pacs.004 `RtrRsnInf/Rsn/Cd`), per SCHEMES.md section 1.3.
    ///
    /// BE08 here is "BankError"; as a status reason the same letters mean "MissingDebtorName".
    ReturnReason {
        /// Account number is invalid or missing.
        IncorrectAccountNumber = "AC01",
        /// Creditor account number invalid or missing.
        InvalidCreditorAccountNumber = "AC03",
        /// Account number closed.
        ClosedAccountNumber = "AC04",
        /// Account blocked.
        BlockedAccount = "AC06",
        /// Transaction forbidden on this type of account.
        TransactionForbidden = "AG01",
        /// Duplication.
        Duplication = "AM05",
        /// Amount not the one agreed or expected.
        WrongAmount = "AM09",
        /// Transaction already returned.
        AlreadyReturnedTransaction = "ARDT",
        /// Creditor address missing or incorrect.
        MissingCreditorAddress = "BE04",
        /// Returned as a result of a bank error (Pix MED operational failure).
        BankError = "BE08",
        /// Requested by the customer.
        RequestedByCustomer = "CUST",
        /// Return for a technical reason.
        ReturnForTechnicalReason = "DS28",
        /// Payment is a duplicate of another payment.
        DuplicatePayment = "DUPL",
        /// Return following a cancellation request.
        FollowingCancellationRequest = "FOCR",
        /// Returned as a result of fraud (Pix MED well-founded fraud suspicion).
        Fraud = "FR01",
        /// Refund requested by the end customer.
        RefundRequestByEndCustomer = "MD06",
        /// End customer deceased.
        EndCustomerDeceased = "MD07",
        /// Reason not specified, customer generated.
        NotSpecifiedReasonCustomerGenerated = "MS02",
        /// Reason not specified, agent generated.
        NotSpecifiedReasonAgentGenerated = "MS03",
        /// Reason given as narrative.
        Narrative = "NARR",
        /// No answer from the customer.
        NoAnswerFromCustomer = "NOAS",
        /// Original transaction never received.
        NoOriginalTransactionReceived = "NOOR",
        /// Bank identifier incorrect.
        BankIdentifierIncorrect = "RC01",
        /// Regulatory reason.
        RegulatoryReason = "RR04",
        /// Pix Saque/Troco error or disagreement (Pix pacs.004 only; ISO name unconfirmed).
        SpecificServiceOfferedByCreditorAgent = "SL02",
        /// Received after the cut-off time.
        CutOffTime = "TM01",
        /// Undue payment.
        UnduePayment = "UPAY",
    }
}

code_set! {
    /// ExternalCancellationReason1Code (camt.056 `CxlRsnInf/Rsn/Cd`), per SCHEMES.md 1.4.
    CancellationReason {
        /// Invalid debtor account number.
        InvalidDebtorAccountNumber = "AC02",
        /// Wrong (creditor) account number.
        InvalidCreditorAccountNumber = "AC03",
        /// Incorrect agent in the payment workflow.
        IncorrectAgent = "AGNT",
        /// Amount not the amount agreed or expected.
        WrongAmount = "AM09",
        /// Invalid debtor identification.
        InvalidDebtorIdentification = "BE16",
        /// Requested by the customer.
        RequestedByCustomer = "CUST",
        /// Cancel upon unable to apply.
        CancelUponUnableToApply = "CUTA",
        /// Original payment order expired due to time-out.
        TimeOut = "DS24",
        /// Payment is a duplicate of another payment.
        DuplicatePayment = "DUPL",
        /// Error by the debtor in the original transfer.
        EndUserError = "ENUE",
        /// Transaction originated fraudulently.
        FraudulentOrigin = "FRAD",
        /// Invalid cancellation request.
        InvalidCancellationRequest = "INCR",
        /// Return of funds requested by the end customer.
        RefundRequestByEndCustomer = "MD06",
        /// Reason given as narrative.
        Narrative = "NARR",
        /// Service not rendered (seen in the Fedwire return samples).
        ServiceNotRendered = "SVNR",
        /// Technical problems resulting in an erroneous transaction.
        TechnicalProblem = "TECH",
        /// Payment not properly authorised.
        UnauthorizedPayment = "UAPA",
        /// Undue payment.
        UnduePayment = "UPAY",
    }
}

code_set! {
    /// ExternalInvestigationExecutionConfirmation1Code (camt.029 `Sts/Conf`), the subset in
    /// SCHEMES.md 1.5.
    InvestigationConfirmation {
        /// Cancelled as per request.
        CancelledAsPerRequest = "CNCL",
        /// Cancellation request rejected.
        RejectedCancellationRequest = "RJCR",
        /// Cancellation request pending.
        PendingCancellationRequest = "PDCR",
        /// Cancellation request partially executed.
        PartiallyExecutedCancellationRequest = "PECR",
        /// Modified as per request.
        ModifiedAsPerRequest = "MODI",
        /// Cancellation will follow.
        CancellationWillFollow = "CWFW",
        /// Investigation pending.
        Pending = "PDNG",
    }
}

code_set! {
    /// CancellationIndividualStatus1Code (camt.029 `TxCxlSts`), an XSD enumeration.
    CancellationStatus {
        /// Cancellation rejected.
        RejectedCancellationRequest = "RJCR",
        /// Cancellation accepted.
        AcceptedCancellationRequest = "ACCR",
        /// Cancellation pending.
        PendingCancellationRequest = "PDCR",
    }
}

code_set! {
    /// ExternalPaymentCancellationRejection1Code (camt.029 `CxlStsRsnInf/Rsn/Cd`), SCHEMES.md 1.5.
    CancellationRejection {
        /// Account closed.
        ClosedAccountNumber = "AC04",
        /// Additional information on the original transaction requested.
        AdditionalInformationRequested = "ADAC",
        /// Incorrect agent.
        IncorrectAgent = "AGNT",
        /// Insufficient funds.
        InsufficientFunds = "AM04",
        /// Already returned.
        AlreadyReturned = "ARDT",
        /// Awaiting reply.
        AwaitingReply = "ARPL",
        /// Customer decision.
        CustomerDecision = "CUST",
        /// Legal decision.
        LegalDecision = "LEGL",
        /// Reason given as narrative.
        Narrative = "NARR",
        /// No answer from the customer.
        NoAnswerFromCustomer = "NOAS",
        /// Original transaction never received.
        NoOriginalTransactionReceived = "NOOR",
        /// Passed to the next agent.
        PassedToNextAgent = "PTNA",
        /// Requested debit authority.
        RequestedDebitAuthority = "RQDA",
        /// Regulatory reason.
        RegulatoryReason = "RR04",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_set<T: Copy + PartialEq + fmt::Debug>(
        all: &[T],
        code: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        let mut seen = std::collections::HashSet::new();
        for &c in all {
            let s = code(c);
            assert_eq!(s.len(), 4, "{s}");
            assert!(s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{s}");
            assert!(seen.insert(s), "{s} twice");
            assert_eq!(parse(s), Some(c));
        }
    }

    #[test]
    fn every_code_is_four_characters_unique_in_its_set_and_parses_back() {
        check_set(TxStatus::ALL, TxStatus::code, TxStatus::from_code);
        check_set(StatusReason::ALL, StatusReason::code, StatusReason::from_code);
        check_set(ReturnReason::ALL, ReturnReason::code, ReturnReason::from_code);
        check_set(CancellationReason::ALL, CancellationReason::code, CancellationReason::from_code);
        check_set(
            InvestigationConfirmation::ALL,
            InvestigationConfirmation::code,
            InvestigationConfirmation::from_code,
        );
        check_set(CancellationStatus::ALL, CancellationStatus::code, CancellationStatus::from_code);
        check_set(
            CancellationRejection::ALL,
            CancellationRejection::code,
            CancellationRejection::from_code,
        );
    }

    #[test]
    fn names_are_the_iso_names_where_the_variant_differs() {
        assert_eq!(StatusReason::SignerNotAuthorised.name(), "NotAllowedPayment");
        assert_eq!(
            StatusReason::DuplicatePaymentInformationId.name(),
            "DuplicatePaymentInformationID"
        );
        assert_eq!(StatusReason::TimeoutCreditorAgent.name(), "TimeoutCreditorAgent");
    }

    #[test]
    fn the_same_letters_mean_different_things_in_different_sets() {
        assert_eq!(
            StatusReason::from_code("BE08").map(StatusReason::name),
            Some("MissingDebtorName")
        );
        assert_eq!(ReturnReason::from_code("BE08").map(ReturnReason::name), Some("BankError"));
        // TECH is a cancellation reason, not a status reason.
        assert!(StatusReason::from_code("TECH").is_none());
        assert!(CancellationReason::from_code("TECH").is_some());
        assert!(StatusReason::from_code("ab05").is_none());
        assert!(StatusReason::from_code("").is_none());
    }
}
