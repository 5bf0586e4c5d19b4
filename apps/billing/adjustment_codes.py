"""The remittance code sets billing shows: claim adjustment group codes, the common claim adjustment reason codes
(CARC) and remittance advice remark codes (RARC), each with a short description (after the X12 code lists).

Denials and adjustments store the codes; their descriptions are read here, so a code the table does not list
still shows as itself, never as free text.
"""

from __future__ import annotations

GROUPS: dict[str, str] = {
    "CO": "Contractual obligation",
    "OA": "Other adjustment",
    "PI": "Payer-initiated reduction",
    "PR": "Patient responsibility",
}

# Patient responsibility CARCs that make a charge the patient's: deductible, coinsurance, copay.
DEDUCTIBLE, COINSURANCE, COPAY = "1", "2", "3"

CARC: dict[str, str] = {
    "1": "Deductible amount",
    "2": "Coinsurance amount",
    "3": "Co-payment amount",
    "4": "The procedure code is inconsistent with the modifier used, or a required modifier is missing",
    "5": "The procedure code or bill type is inconsistent with the place of service",
    "11": "The diagnosis is inconsistent with the procedure",
    "16": "Claim or service lacks information or has submission or billing errors",
    "18": "Exact duplicate claim or service",
    "22": "This care may be covered by another payer per coordination of benefits",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments",
    "26": "Expenses incurred prior to coverage",
    "27": "Expenses incurred after coverage terminated",
    "29": "The time limit for filing has expired",
    "31": "Patient cannot be identified as our insured",
    "45": "Charge exceeds fee schedule or maximum allowable amount",
    "50": "Non-covered service: not deemed a medical necessity by the payer",
    "96": "Non-covered charge(s)",
    "97": "The benefit for this service is included in the payment for another service already adjudicated",
    "109": "Claim or service not covered by this payer or contractor",
    "119": "Benefit maximum for this time period or occurrence has been reached",
    "151": "Payment adjusted because the payer deems the information submitted does not support this many services",
    "197": "Precertification, authorization or notification absent",
    "204": "This service, equipment or drug is not covered under the patient's current benefit plan",
    "242": "Services not provided by network or primary care providers",
    "253": "Sequestration: reduction in federal payment",
}

RARC: dict[str, str] = {
    "M15": "Separately billed services or tests have been bundled as they are considered components of the same "
    "procedure",
    "M51": "Missing, incomplete or invalid procedure code(s)",
    "M76": "Missing, incomplete or invalid diagnosis or condition",
    "MA01": "If you do not agree with what we approved for these services, you may appeal our decision",
    "MA04": "Secondary payment cannot be considered without the identity of or payment information from the "
    "primary payer",
    "MA130": "Your claim contains incomplete and/or invalid information, and no appeal rights are afforded",
    "N4": "Missing, incomplete or invalid prior insurance carrier explanation of benefits",
    "N20": "Service not payable with other service rendered on the same date",
    "N30": "Patient ineligible for this service",
    "N130": "Consult plan benefit documents or guidelines for information about restrictions for this service",
    "N381": "Consult our contractual agreement for restrictions, billing or payment information",
    "N386": "This decision was based on a National Coverage Determination",
}

# PLB03-1: why the payer adjusts the whole payment.
PROVIDER_ADJUSTMENT_REASONS: dict[str, str] = {
    "72": "Authorized return",
    "B2": "Rebate",
    "CS": "Adjustment",
    "FB": "Forwarding balance",
    "IR": "Internal Revenue Service withholding",
    "L6": "Interest owed",
    "WO": "Overpayment recovery",
}


def describe_adjustment(code: str) -> str:
    """ "CO-45" -> "CO-45 Contractual obligation: Charge exceeds fee schedule or maximum allowable amount"."""
    group, _, reason = code.partition("-")
    return f"{code} {GROUPS.get(group, 'Unknown group')}: {CARC.get(reason, 'reason code not in the table')}"


def describe_remark(code: str) -> str:
    """ "N130" -> "N130 Consult plan benefit documents ..."."""
    return f"{code} {RARC.get(code, 'remark code not in the table')}"
