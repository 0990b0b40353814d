"""Quality rules of the consulting domain's products, and the reference lists those rules enforce.

The lists are the domain's governed vocabulary: a practice, career level or skill outside them is
an entry error in the HR systems, so rules quarantine it rather than let it skew the snapshots.
"""

import pandas as pd
import pyarrow as pa

PRACTICES = ["Cloud", "Data", "Engineering", "Security", "Strategy"]
CAREER_LEVELS = ["Analyst", "Consultant", "Senior Consultant", "Manager", "Principal"]
CHANGES = ["hire", "promotion", "leave", "migration"]
SKILLS = ["AWS", "Agile Delivery", "Azure", "Business Analysis", "Change Management", "Data Modeling", "dbt",
          "Financial Modeling", "GCP", "Identity Management", "Incident Response", "Kubernetes", "Machine Learning",
          "Network Security", "Project Management", "Python", "SQL", "Spark", "Terraform", "Threat Modeling"]
VENDORS = ["Amazon Web Services", "Databricks", "dbt Labs", "GIAC", "Google Cloud", "HashiCorp",
           "Identity Management Institute", "ISC2", "Linux Foundation", "Microsoft", "PMI", "Scrum Alliance"]
CERTIFICATION_STATUSES = ["expired", "expiring_30_days", "expiring_60_days", "expiring_90_days", "valid"]


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Days from ``earlier`` to ``later``, for date columns; NaN where either is missing."""
    def moments(dates: pd.Series) -> pd.Series:
        if isinstance(dates.dtype, pd.ArrowDtype):  # through an Arrow timestamp: vectorised
            dates = dates.astype(pd.ArrowDtype(pa.timestamp("us")))
        return dates.astype("datetime64[us]")

    return (moments(later) - moments(earlier)).dt.days


def list_length(text: pd.Series, separator: str = ", ") -> pd.Series:
    """How many items a text list holds ('AWS 4, SQL 3' holds 2); 0 when empty."""
    return text.fillna("").map(lambda t: len(t.split(separator)) if t else 0).astype("int64")
