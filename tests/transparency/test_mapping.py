"""The pure OCDS mapping: payments become implementation transactions; amounts and identifiers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dps.transparency import ocds
from tests.transparency.support import assert_valid

BUYER = ocds.OrganisationData(1, "Guy's and St Thomas' NHS Foundation Trust", ods_code="RJ1")
SUPPLIER = ocds.OrganisationData(2, "HeartFlow UK Ltd", companies_house_number="11000001")
NO_IDS = ocds.OrganisationData(3, "Unregistered Ltd")


def process(payments: tuple[ocds.PaymentData, ...] = ()) -> ocds.ProcessData:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return ocds.ProcessData(
        competition_id=7, title="CT-derived FFR", description="FFR analysis", regime="pa2023_dynamic_market",
        category_name="Imaging", buyer=BUYER, estimated_value_pence=90_000_00, published_at=at,
        clarification_deadline=datetime(2026, 1, 12, 12, tzinfo=UTC), tender_deadline=datetime(2026, 1, 19, 12,
                                                                                               tzinfo=UTC),
        contract_starts_on=date(2026, 4, 1), contract_ends_on=date(2027, 3, 31),
        criteria=(ocds.CriterionData("Price", 40), ocds.CriterionData("Quality", 60)),
        award=ocds.AwardData(made_public_at=datetime(2026, 1, 25, 10, tzinfo=UTC),
                             decided_at=datetime(2026, 1, 25, 9, tzinfo=UTC), supplier=SUPPLIER,
                             value_pence=84_000_00, value_incl_vat_pence=100_800_00, bids_received=3,
                             standstill_ends_at=datetime(2026, 2, 4, 23, 59, tzinfo=UTC)),
        contract=ocds.ContractData(
            id=3, title="CT-derived FFR", created_at=datetime(2026, 2, 6, 10, tzinfo=UTC), starts_on=date(2026, 4, 1),
            ends_on=date(2027, 3, 31), value_pence=84_000_00, state="active",
            milestones=(ocds.MilestoneData(1, "Mobilisation", date(2026, 4, 1), 10_080_00, "paid"),
                        ocds.MilestoneData(2, "Quarter 1", date(2026, 6, 30), 90_720_00, "planned")),
            payments=payments))


def test_payments_become_transactions_and_the_package_validates():
    payments = (ocds.PaymentData(11, datetime(2026, 4, 2, 10, tzinfo=UTC), 10_080_00),
                ocds.PaymentData(12, datetime(2026, 4, 3, 10, tzinfo=UTC), -1_000_50))
    releases = ocds.releases_for(process(payments), "ocds-test")
    assert [r["tag"] for r in releases] == [["tender"], ["award"], ["contract"], ["implementation"],
                                            ["implementation"]]
    assert len({r["id"] for r in releases}) == len(releases)
    assert_valid(ocds.release_package(releases, uri="https://example.org/p", published_at=datetime.now(UTC),
                                      publisher_name="Test", publisher_uri="https://example.org"))
    compiled = ocds.compile_record("ocds-test-7", releases)["compiledRelease"]
    transactions = compiled["contracts"][0]["implementation"]["transactions"]
    assert [(t["id"], t["value"]["amount"]) for t in transactions] == [("payment-11", 10080), ("payment-12", -1000.5)]
    assert transactions[0]["payer"]["id"] == "GB-NHS-RJ1" and transactions[0]["payee"]["id"] == "GB-COH-11000001"
    milestones = compiled["contracts"][0]["milestones"]
    assert [m["status"] for m in milestones] == ["met", "scheduled"]


def test_amounts_are_pounds_and_identifiers_use_org_id_schemes():
    assert ocds.amount(84_000_00) == 84000 and ocds.amount(1_234_56) == 1234.56 and ocds.amount(5) == 0.05
    assert ocds.party(BUYER, ["buyer"])["identifier"] == {"scheme": "GB-NHS", "id": "RJ1",
                                                          "legalName": BUYER.name}
    assert ocds.party(SUPPLIER, ["supplier"])["id"] == "GB-COH-11000001"
    assert "identifier" not in ocds.party(NO_IDS, ["supplier"])
    assert ocds.ocid_for("ocds-abc", 12) == "ocds-abc-12"
    tender = ocds.tender_release(process(), "ocds-test")["tender"]
    assert tender["tenderPeriod"] == {"startDate": "2026-01-05T09:00:00Z", "endDate": "2026-01-19T12:00:00Z"}
    assert tender["contractPeriod"]["startDate"] == "2026-04-01T00:00:00+01:00"
    assert tender["awardCriteriaDetails"] == "Price 40%; Quality 60%"


def test_a_cancelled_competition_has_a_cancellation_release():
    cancelled = ocds.ProcessData(**{**process().__dict__, "award": None, "contract": None,
                                    "cancelled_at": datetime(2026, 1, 8, tzinfo=UTC),
                                    "cancel_reason": "No longer needed"})
    releases = ocds.releases_for(cancelled, "ocds-test")
    assert [r["tag"] for r in releases] == [["tender"], ["tenderCancellation"]]
    assert ocds.compile_record("ocds-test-7", releases)["compiledRelease"]["tender"]["status"] == "cancelled"
    assert_valid(ocds.release_package(releases, uri="https://example.org/p", published_at=datetime.now(UTC),
                                      publisher_name="Test", publisher_uri="https://example.org"))
