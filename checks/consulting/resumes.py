"""Quality rules of consulting.resumes."""

import pandera.pandas as pa
from pandera.typing import Series

from mesh import rule
from mesh.types import Date


class Resumes(pa.DataFrameModel):
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant the resume describes")
    resume_text: Series[str] = pa.Field(description="The resume as written (personal data)")
    word_count: Series[int] = pa.Field(description="Words in the resume")
    updated_date: Series[Date] = pa.Field(description="Day this version was recorded; the partition")

    @pa.check("word_count", name="resume_not_blank", description="a resume has at least one word")
    def resume_not_blank(cls, words: Series[int]) -> Series[bool]:
        return words > 0

    @pa.check("word_count", name="resume_is_short",
              description="a resume is a summary of at most 150 words", **rule(severity="warn"))
    def resume_is_short(cls, words: Series[int]) -> Series[bool]:
        # Profiles show the resume's key skills; a resume of more than 150 words is a full CV, not a summary.
        return words <= 150
