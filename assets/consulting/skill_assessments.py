"""consulting.skill_assessments: skill levels as assessed, from the HR system's skills feed."""

import pandas as pd


def skill_assessments(skills: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consultant_id": skills["employee_id"],
            "skill": skills["skill"],
            "skill_level": skills["level"],
            "assessed_date": skills["assessed_on"],
            "recorded_date": skills["recorded_on"],
        }
    )
