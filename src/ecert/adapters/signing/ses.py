"""The electronic seal structures of GB/T 38540-2020, version 4 (R-DOC-6), as asn1crypto types.

Laid out as the Java reference implementation ofdrw implements them::

    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OBJECT IDENTIFIER,
                                 signature BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
    TBS_Sign ::= SEQUENCE { version INTEGER (4), eseal SESeal, timeInfo GeneralizedTime,
                            dataHash BIT STRING, propertyInfo IA5String, extDatas [0] EXPLICIT ExtensionDatas OPTIONAL }
    SESeal ::= SEQUENCE { esealInfo SES_SealInfo, cert OCTET STRING, signAlgID OBJECT IDENTIFIER,
                          signedValue BIT STRING }
    SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }

``cert`` fields hold DER X.509 certificates; ``signature`` / ``signedValue`` the SM2 signature as DER
``SEQUENCE {r, s}`` (1.2.156.10197.1.501, SM2-with-SM3). The seal maker's ``signedValue`` is over the
DER of ``esealInfo`` (as ofdrw makes and checks v4 seals, and as independent GM/T 0031 verifiers do);
the signer's ``signature`` over the DER of ``TBS_Sign``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto import core  # type: ignore[import-untyped]

SEAL_HEADER_ID = "ES"
SEAL_VERSION = 4
CERT_LIST_CERTS = 1  # certListType: the certificates themselves (2 would be their digests)


def _signed(content: tuple[str, type], algorithm: str, value: str) -> list[Any]:
    """The fields of a signed structure of the standard: what is signed, the signer's DER certificate,
    the signature algorithm and the signature (the seal and the signature have the same layout)."""
    return [content, ("cert", core.OctetString), (algorithm, core.ObjectIdentifier), (value, core.OctetBitString)]


class ExtData(core.Sequence):  # type: ignore[misc]
    """One extension (ExtData): its OID, whether it is critical, its DER value."""

    _fields: ClassVar[list[Any]] = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    """ExtensionDatas: the optional extensions of the seal and of the signed data."""

    _child_spec = ExtData


class SESHeader(core.Sequence):  # type: ignore[misc]
    """The seal header (SES_Header): ID "ES", version 4, the maker's vendor id."""

    _fields: ClassVar[list[Any]] = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class CertList(core.SequenceOf):  # type: ignore[misc]
    """The certificates allowed to use the seal (certListType 1), each DER in an OCTET STRING."""

    _child_spec = core.OctetString


class SESPropertyInfo(core.Sequence):  # type: ignore[misc]
    """印章属性 (SES_ESPropertyInfo): type (1 = official seal), name, who may use it, when made, in force from/to."""

    _fields: ClassVar[list[Any]] = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", CertList),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class SESPictureInfo(core.Sequence):  # type: ignore[misc]
    """SES_ESPictrueInfo (the standard's spelling): type ("PNG"), data, width and height in mm."""

    _fields: ClassVar[list[Any]] = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SESSealInfo(core.Sequence):  # type: ignore[misc]
    """印章信息 (SES_SealInfo): header, the seal's id, its property and its picture."""

    _fields: ClassVar[list[Any]] = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESPropertyInfo),
        ("picture", SESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):  # type: ignore[misc]
    """电子印章 (SESeal): the seal information signed by the seal maker (制章人), with the maker's certificate."""

    _fields: ClassVar[list[Any]] = _signed(("eseal_info", SESSealInfo), "sign_alg_id", "signed_value")


class TBSSign(core.Sequence):  # type: ignore[misc]
    """待签名数据 (TBS_Sign): the seal, the signing time, the SM3 of Signature.xml and its path."""

    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SESSignature(core.Sequence):  # type: ignore[misc]
    """电子签章数据 (SES_Signature): TBS_Sign, the signer's certificate, SM2-with-SM3 and the signature."""

    _fields: ClassVar[list[Any]] = [
        *_signed(("to_sign", TBSSign), "signature_alg_id", "signature"),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]
