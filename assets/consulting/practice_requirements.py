"""consulting.practice_requirements: the skills each practice needs, at what level and how many people."""

import pandas as pd


def practice_requirements(requirements: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "practice": requirements["practice"],
            "skill": requirements["skill"],
            "required_level": requirements["required_level"],
            "headcount_needed": requirements["headcount_needed"],
            "effective_date": requirements["effective_on"],
        }
    )
