"""consulting.trainings: course completions from the learning system."""

import pandas as pd


def trainings(trainings: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "consultant_id": trainings["employee_id"],
            "course": trainings["course"],
            "skill": trainings["skill"],
            "hours": trainings["hours"],
            "completed_date": trainings["completed_on"],
            "recorded_date": trainings["recorded_on"],
        }
    )
