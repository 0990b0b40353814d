"""Quality rules of consulting.practice_requirements."""

import pandera.pandas as pa
from pandera.typing import Series

from checks.consulting import PRACTICES, SKILLS
from mesh import rule
from mesh.types import Date


class PracticeRequirements(pa.DataFrameModel):
    practice: Series[str] = pa.Field(description="Practice that needs the skill")
    skill: Series[str] = pa.Field(description="Skill needed, from the firm's taxonomy")
    required_level: Series[int] = pa.Field(description="Lowest assessed level (1-5) that counts as qualified")
    headcount_needed: Series[int] = pa.Field(description="Qualified consultants the practice needs")
    effective_date: Series[Date] = pa.Field(description="Day the requirement takes effect; the partition")

    @pa.check("practice", name="known_practice", description="the practice is one of the firm's practices")
    def known_practice(cls, practice: Series[str]) -> Series[bool]:
        return practice.isin(PRACTICES)

    @pa.check("skill", name="known_skill", description="the skill is in the firm's skill taxonomy")
    def known_skill(cls, skill: Series[str]) -> Series[bool]:
        return skill.isin(SKILLS)

    @pa.check("required_level", name="required_level_in_scale", description="the required level is between 1 and 5")
    def required_level_in_scale(cls, level: Series[int]) -> Series[bool]:
        return level.between(1, 5)

    @pa.check("headcount_needed", name="headcount_needed_positive",
              description="a requirement needs at least one consultant")
    def headcount_needed_positive(cls, headcount: Series[int]) -> Series[bool]:
        return headcount > 0

    @pa.check("headcount_needed", name="headcount_needed_plausible",
              description="a requirement needs fewer than 1000 consultants", **rule(severity="warn"))
    def headcount_needed_plausible(cls, headcount: Series[int]) -> Series[bool]:
        # No practice has more than a few hundred people; a thousand is a typing error.
        return headcount < 1000
