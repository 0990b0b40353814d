"""consulting.certifications: certificates earned or renewed, with their issue and expiry dates."""

import pandas as pd


def certifications(certifications: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "certification_id": certifications["cert_id"],
            "consultant_id": certifications["employee_id"],
            "certification": certifications["certification"],
            "vendor": certifications["vendor"],
            "issued_date": certifications["issued_on"],
            "expiry_date": certifications["expires_on"],
            "recorded_date": certifications["recorded_on"],
        }
    )
