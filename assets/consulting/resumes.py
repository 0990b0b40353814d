"""consulting.resumes: each version of a consultant's resume, with its length in words."""

import pandas as pd


def resumes(resumes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consultant_id": resumes["employee_id"],
            "resume_text": resumes["resume"],
            "word_count": resumes["resume"].str.split().str.len().fillna(0).astype("int64"),
            "updated_date": resumes["recorded_on"],
        }
    )
