"""consulting.consultants: the HR master's changes (hires, promotions, leavers), in the mesh's terms."""

import pandas as pd


def consultants(consultants: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consultant_id": consultants["employee_id"],
            "name": consultants["full_name"],
            "practice": consultants["practice"],
            "career_level": consultants["grade"],
            "hire_date": consultants["hired_on"],
            "leave_date": consultants["left_on"],
            "change": consultants["change_type"],
            "recorded_date": consultants["recorded_on"],
        }
    )
