"""OCDS 1.1 mapping (pure: no I/O, no clock). One competition is one contracting process.

Releases, each a snapshot of what was public at its date:
- `{ocid}-tender` at publication: the tender, its periods and published criteria. Nothing about bids (C5).
- `{ocid}-cancellation` if the competition was cancelled after publication.
- `{ocid}-award` when the contract award notice is published (PA 2023: before the standstill, which it starts, C8;
  PCR 2015: with the contract): the supplier, the value and the number of bids received (the deadline has passed by
  then), award status `pending`.
- `{ocid}-contract` when the notice that follows the contract is published (C9): the award becomes `active`, the
  contract with its payment milestones (and, for a PA 2023 contract over £5m, its key performance indicators).
- `{ocid}-implementation-{n}` for each payment (or refund) on the contract: a transaction.

Money is integer pence in the database and a GBP amount in pounds here. Contract values exclude VAT (as on
Contracts Finder); the value including VAT is stated in the award description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from dps.dates import LONDON
from dps.transparency.schema import merger

OCDS_VERSION = "1.1"
CURRENCY = "GBP"
# org-id.guide schemes: NHS Organisation Data Service codes and Companies House numbers.
BUYER_SCHEME = "GB-NHS"
SUPPLIER_SCHEME = "GB-COH"

REGIME_METHOD_DETAILS = {
    "pcr2015_dps": "Call for competition under a dynamic purchasing system (Public Contracts Regulations 2015, "
                   "regulation 34)",
    "pa2023_dynamic_market": "Competitive flexible procedure within a dynamic market (Procurement Act 2023, "
                             "sections 34 to 40)",
}


@dataclass(frozen=True)
class OrganisationData:
    id: int
    name: str
    ods_code: str | None = None
    companies_house_number: str | None = None


@dataclass(frozen=True)
class CriterionData:
    title: str
    weight: int


@dataclass(frozen=True)
class MilestoneData:
    sequence: int
    title: str
    due_on: date
    amount_pence: int
    state: str


@dataclass(frozen=True)
class PaymentData:
    id: int
    at: datetime
    amount_pence: int  # negative for a refund


@dataclass(frozen=True)
class AwardData:
    made_public_at: datetime  # the publication of the contract award notice
    decided_at: datetime
    supplier: OrganisationData
    value_pence: int
    value_incl_vat_pence: int
    bids_received: int
    standstill_ends_at: datetime


@dataclass(frozen=True)
class ContractData:
    id: int
    title: str
    created_at: datetime
    starts_on: date
    ends_on: date
    value_pence: int
    state: str
    milestones: tuple[MilestoneData, ...] = ()
    payments: tuple[PaymentData, ...] = ()
    published_at: datetime | None = None  # the notice that follows the contract (C9); else when it was made
    kpis: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessData:
    """What is public about one competition. Loaded by dps.transparency.services; never holds sealed data."""

    competition_id: int
    title: str
    description: str
    regime: str
    category_name: str
    buyer: OrganisationData
    estimated_value_pence: int
    published_at: datetime
    clarification_deadline: datetime
    tender_deadline: datetime
    contract_starts_on: date
    contract_ends_on: date
    criteria: tuple[CriterionData, ...] = ()
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    award: AwardData | None = None
    contract: ContractData | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ocid_for(prefix: str, competition_id: int) -> str:
    return f"{prefix}-{competition_id}"


def amount(pence: int) -> float | int:
    """Pence to a pounds amount for JSON: whole pounds as integers, else two decimals."""
    pounds = Decimal(pence) / 100
    return int(pounds) if pounds == pounds.to_integral_value() else float(pounds.quantize(Decimal("0.01")))


def value(pence: int) -> dict[str, Any]:
    return {"amount": amount(pence), "currency": CURRENCY}


def iso(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("OCDS dates must be aware datetimes")
    return instant.isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An OCDS date back to an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def day_start(day: date) -> str:
    return iso(datetime.combine(day, time(0, 0), tzinfo=LONDON))


def day_end(day: date) -> str:
    return iso(datetime.combine(day, time(23, 59, 59), tzinfo=LONDON))


def party_id(organisation: OrganisationData) -> str:
    if organisation.ods_code:
        return f"{BUYER_SCHEME}-{organisation.ods_code}"
    if organisation.companies_house_number:
        return f"{SUPPLIER_SCHEME}-{organisation.companies_house_number}"
    return f"dps-organisation-{organisation.id}"


def party(organisation: OrganisationData, roles: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": party_id(organisation), "name": organisation.name, "roles": roles}
    if organisation.ods_code:
        out["identifier"] = {"scheme": BUYER_SCHEME, "id": organisation.ods_code, "legalName": organisation.name}
    elif organisation.companies_house_number:
        out["identifier"] = {"scheme": SUPPLIER_SCHEME, "id": organisation.companies_house_number,
                             "legalName": organisation.name}
    return out


def reference(organisation: OrganisationData) -> dict[str, Any]:
    return {"id": party_id(organisation), "name": organisation.name}


def _criteria_details(criteria: tuple[CriterionData, ...]) -> str:
    return "; ".join(f"{c.title} {c.weight}%" for c in criteria)


def _base(process: ProcessData, prefix: str, suffix: str, at: datetime, tag: list[str]) -> dict[str, Any]:
    ocid = ocid_for(prefix, process.competition_id)
    return {"ocid": ocid, "id": f"{ocid}-{suffix}", "date": iso(at), "tag": tag, "initiationType": "tender",
            "language": "en"}


def _award_id(prefix: str, process: ProcessData) -> str:
    return f"{ocid_for(prefix, process.competition_id)}-award-1"


def tender_release(process: ProcessData, prefix: str) -> dict[str, Any]:
    """The tender as published: C5 holds, so it says nothing about who has bid or how many."""
    release = _base(process, prefix, "tender", process.published_at, ["tender"])
    buyer = reference(process.buyer)
    release["parties"] = [party(process.buyer, ["buyer", "procuringEntity"])]
    release["buyer"] = buyer
    release["tender"] = {
        "id": f"{ocid_for(prefix, process.competition_id)}-tender",
        "title": process.title,
        "description": process.description,
        "status": "active",
        "procuringEntity": buyer,
        "value": value(process.estimated_value_pence),
        "procurementMethod": "selective",
        "procurementMethodDetails": REGIME_METHOD_DETAILS.get(process.regime, process.regime),
        "additionalProcurementCategories": [process.category_name],
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": _criteria_details(process.criteria),
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": {"startDate": iso(process.published_at), "endDate": iso(process.tender_deadline)},
        "enquiryPeriod": {"startDate": iso(process.published_at), "endDate": iso(process.clarification_deadline)},
        "contractPeriod": {"startDate": day_start(process.contract_starts_on),
                           "endDate": day_end(process.contract_ends_on)},
    }
    return release


def cancellation_release(process: ProcessData, prefix: str) -> dict[str, Any]:
    assert process.cancelled_at is not None
    release = _base(process, prefix, "cancellation", process.cancelled_at, ["tenderCancellation"])
    release["parties"] = [party(process.buyer, ["buyer", "procuringEntity"])]
    release["buyer"] = reference(process.buyer)
    release["tender"] = {"id": f"{ocid_for(prefix, process.competition_id)}-tender", "status": "cancelled",
                         "procurementMethodRationale": process.cancel_reason or ""}
    return release


def award_release(process: ProcessData, prefix: str) -> dict[str, Any]:
    award = process.award
    assert award is not None
    release = _base(process, prefix, "award", award.made_public_at, ["award"])
    release["parties"] = [party(process.buyer, ["buyer", "procuringEntity"]), party(award.supplier, ["supplier"])]
    release["buyer"] = reference(process.buyer)
    release["tender"] = {"id": f"{ocid_for(prefix, process.competition_id)}-tender", "status": "complete",
                         "numberOfTenderers": award.bids_received,
                         "awardPeriod": {"startDate": iso(award.decided_at), "endDate": iso(award.standstill_ends_at)}}
    release["awards"] = [{
        "id": _award_id(prefix, process),
        "title": process.title,
        "description": f"Value including VAT: £{Decimal(award.value_incl_vat_pence) / 100:,.2f}. "
                       f"Standstill period ends {iso(award.standstill_ends_at)}.",
        "status": "pending",
        "date": iso(award.decided_at),
        "value": value(award.value_pence),
        "suppliers": [reference(award.supplier)],
        "contractPeriod": {"startDate": day_start(process.contract_starts_on),
                           "endDate": day_end(process.contract_ends_on)},
    }]
    return release


def _contract_id(prefix: str, process: ProcessData) -> str:
    assert process.contract is not None
    return f"{ocid_for(prefix, process.competition_id)}-contract-{process.contract.id}"


def contract_release(process: ProcessData, prefix: str) -> dict[str, Any]:
    contract, award = process.contract, process.award
    assert contract is not None and award is not None
    release = _base(process, prefix, "contract", contract.published_at or contract.created_at, ["contract"])
    release["parties"] = [party(process.buyer, ["buyer", "procuringEntity", "payer"]),
                          party(award.supplier, ["supplier", "payee"])]
    release["buyer"] = reference(process.buyer)
    release["awards"] = [{"id": _award_id(prefix, process), "status": "active"}]
    release["contracts"] = [{
        "id": _contract_id(prefix, process),
        "awardID": _award_id(prefix, process),
        "title": contract.title,
        "status": "active" if contract.state == "active" else "terminated",
        "period": {"startDate": day_start(contract.starts_on), "endDate": day_end(contract.ends_on)},
        "value": value(contract.value_pence),
        "dateSigned": iso(contract.created_at),
        **({"description": "Key performance indicators: " + "; ".join(
            f"{n}. {kpi}" for n, kpi in enumerate(contract.kpis, start=1))} if contract.kpis else {}),
        "milestones": [{"id": f"milestone-{m.sequence}", "title": m.title, "type": "payment",
                        "description": f"Payment of £{Decimal(m.amount_pence) / 100:,.2f} including VAT",
                        "dueDate": day_end(m.due_on),
                        "status": "met" if m.state == "paid" else "scheduled"} for m in contract.milestones],
    }]
    return release


def implementation_releases(process: ProcessData, prefix: str) -> list[dict[str, Any]]:
    """One release per payment, each carrying the transactions made so far (a list merged by id)."""
    contract, award = process.contract, process.award
    if contract is None or award is None or not contract.payments:
        return []
    out = []
    payments = sorted(contract.payments, key=lambda p: (p.at, p.id))
    for index, payment in enumerate(payments, start=1):
        release = _base(process, prefix, f"implementation-{index}", payment.at, ["implementation"])
        release["parties"] = [party(process.buyer, ["buyer", "procuringEntity", "payer"]),
                              party(award.supplier, ["supplier", "payee"])]
        release["buyer"] = reference(process.buyer)
        release["contracts"] = [{"id": _contract_id(prefix, process), "awardID": _award_id(prefix, process),
                                 "implementation": {"transactions": [
            {"id": f"payment-{p.id}", "date": iso(p.at), "value": value(p.amount_pence),
             "payer": reference(process.buyer), "payee": reference(award.supplier)} for p in payments[:index]]}}]
        out.append(release)
    return out


def releases_for(process: ProcessData, prefix: str) -> list[dict[str, Any]]:
    """Every release of one contracting process, oldest first."""
    releases = [tender_release(process, prefix)]
    if process.cancelled_at is not None:
        releases.append(cancellation_release(process, prefix))
    if process.award is not None:
        releases.append(award_release(process, prefix))
        if process.contract is not None:
            releases.append(contract_release(process, prefix))
            releases.extend(implementation_releases(process, prefix))
    return releases


def release_package(releases: list[dict[str, Any]], *, uri: str, published_at: datetime, publisher_name: str,
                    publisher_uri: str, links: dict[str, str] | None = None) -> dict[str, Any]:
    package: dict[str, Any] = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": iso(published_at),
        "publisher": {"name": publisher_name, "uri": publisher_uri},
        "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        "publicationPolicy": publisher_uri + "/open-data/publication-policy",
        "releases": releases,
    }
    if links:
        package["links"] = links
    return package


def compile_record(ocid: str, releases: list[dict[str, Any]]) -> dict[str, Any]:
    """A record: the releases and the compiled release merged by ocdsmerge with the OCDS 1.1 merge rules."""
    ordered = sorted(releases, key=lambda r: r["date"])
    return {"ocid": ocid, "releases": ordered, "compiledRelease": merger().create_compiled_release(ordered)}
